"""A PNG's ICC profile (its iCCP chunk) inflated within a bound, before Pillow opens the file.

Pillow refuses a whole PNG whose profile inflates past 1 MB (PngImagePlugin.MAX_TEXT_CHUNK,
its guard against decompression bombs in compressed chunks) or names an unknown compression
method, and drops a profile that does not inflate without a word. A broken or enormous profile
must never fail a job (worker/colour.py: it is ignored, and the job's record says so). So each
iCCP chunk is inflated here, never past MAX_PROFILE_BYTES + 1 bytes (the bomb guard stays); a
chunk Pillow would refuse or drop is cut from the file, and what it held comes back: the
profile, when it is whole and within MAX_PROFILE_BYTES, else the reason it is ignored.
"""

from __future__ import annotations

import struct
import zlib

from worker.colour import MAX_PROFILE_BYTES, UNREADABLE

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PILLOW_LIMIT = 1 << 20  # PngImagePlugin.MAX_TEXT_CHUNK (ImageFile.SAFEBLOCK)


def bounded(data: bytes) -> tuple[bytes, bytes | None, str | None]:
    """(data without the iCCP chunks Pillow cannot take, their profile, or why it is ignored).

    A file without such a chunk comes back as it is, with (None, None).
    """
    if not data.startswith(_SIGNATURE) or b"iCCP" not in data:
        return data, None, None
    kept: list[bytes] = []
    profile: bytes | None = None
    note: str | None = None
    start, pos = 0, len(_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break  # truncated: Pillow refuses the file as it is
        if kind == b"iCCP":
            chunk_profile, chunk_note, cut = _inflate(data[pos + 8:pos + 8 + length])
            if cut:
                kept.append(data[start:pos])
                start = end
                profile, note = chunk_profile, chunk_note
        if kind == b"IEND":
            break
        pos = end
    if not kept:
        return data, None, None
    return b"".join(kept) + data[start:], profile, note


def _inflate(body: bytes) -> tuple[bytes | None, str | None, bool]:
    """(profile, note, whether Pillow cannot take the chunk) of one iCCP chunk's data."""
    name_end = body.find(b"\x00")
    if name_end < 0 or name_end + 1 >= len(body) or body[name_end + 1] != 0:
        return None, UNREADABLE, True  # no name, or a compression method other than zlib
    inflater = zlib.decompressobj()
    try:
        profile = inflater.decompress(body[name_end + 2:], MAX_PROFILE_BYTES + 1)
    except zlib.error:
        return None, UNREADABLE, True
    if len(profile) > MAX_PROFILE_BYTES:
        return None, (f"The image's ICC profile inflates to more than {MAX_PROFILE_BYTES} "
                      "bytes: ignored, the image was read as sRGB."), True
    if not inflater.eof:
        return None, UNREADABLE, True  # a cut-off stream: part of a profile
    if len(profile) > _PILLOW_LIMIT:
        return profile, None, True  # whole and within our bound: used, past Pillow's
    return None, None, False
