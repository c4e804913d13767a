"""Builders of hostile and awkward input images (bytes), for the API tests and their checks."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def photo(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """A small RGB picture with a subject-like blob (not flat, so every codec has work)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    blob = ((xx - w / 2) ** 2 / (w / 4) ** 2 + (yy - h / 2) ** 2 / (h / 4) ** 2) < 1
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = (xx * 255 // max(w - 1, 1)).astype(np.uint8)
    arr[..., 1] = (yy * 255 // max(h - 1, 1)).astype(np.uint8)
    arr[blob] = (30, 160, 60)
    return Image.fromarray(arr, "RGB")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_raw(width: int, height: int, bit_depth: int, color_type: int, rows: bytes,
            extra_chunks: bytes = b"") -> bytes:
    """A PNG written chunk by chunk (for what Pillow will not write: 48-bit RGB, lies)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra_chunks
            + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


def png_bomb_header() -> bytes:
    """A PNG that claims 100000 x 100000 pixels (10 Gpx) in a few hundred bytes."""
    return png_raw(100_000, 100_000, 8, 2, b"\x00" * 64)


def png_bomb_real() -> bytes:
    """A real 12000 x 12000 PNG (144 Mpx) that compresses to ~150 KB."""
    return save(Image.new("L", (12000, 12000)), "PNG")


def png_ztxt_bomb() -> bytes:
    """A valid small PNG carrying a zTXt chunk that inflates to 64 MB."""
    text = b"Comment\x00\x00" + zlib.compress(b"A" * (64 * 1024 * 1024), 9)
    img = photo((64, 48))
    rows = b"".join(b"\x00" + img.tobytes()[y * 64 * 3:(y + 1) * 64 * 3] for y in range(48))
    return png_raw(64, 48, 8, 2, rows, _chunk(b"zTXt", text))


def png_rgb48() -> bytes:
    """A 16-bit-per-channel RGB PNG (48 bits a pixel)."""
    w, h = 80, 60
    arr = (np.asarray(photo((w, h))).astype(">u2") * 257).astype(">u2")
    rows = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))
    return png_raw(w, h, 16, 2, rows)


def png16(wide: np.ndarray, *chunks: bytes) -> bytes:
    """A 48-bit RGB PNG of an (h, w, 3) uint16 array, chunks (iCCP, eXIf) before its data."""
    height, width, _ = wide.shape
    big = wide.astype(">u2")
    rows = b"".join(b"\x00" + big[y].tobytes() for y in range(height))
    return png_raw(width, height, 16, 2, rows, b"".join(chunks))


def iccp_chunk(profile: bytes) -> bytes:
    return _chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(profile))


def png_grey16() -> bytes:
    """A 16-bit greyscale PNG (Pillow mode I;16)."""
    arr = (np.asarray(photo((80, 60)).convert("L")).astype(np.uint16) * 257)
    return save(Image.fromarray(arr), "PNG")


def jpeg_bomb_header() -> bytes:
    """A small JPEG whose frame header is patched to say 65500 x 65500 pixels."""
    data = bytearray(save(photo((16, 16)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65500, 65500)
    return bytes(data)


def gif_bomb_header() -> bytes:
    """A GIF whose logical screen is 65535 x 65535 with one 1 x 1 frame."""
    data = bytearray(save(Image.new("P", (1, 1)), "GIF"))
    struct.pack_into("<HH", data, 6, 65535, 65535)
    return bytes(data)


def tiff_bomb_header() -> bytes:
    """A TIFF that claims 100000 x 100000 pixels."""
    data = save(photo((8, 8)), "TIFF")
    img = Image.open(io.BytesIO(data))
    ifd = img.tag_v2
    # Rewrite width/length in place: find the little-endian tags 256/257 of type LONG or SHORT.
    out = bytearray(data)
    for tag in (256, 257):
        for typ, fmt in ((3, "<H"), (4, "<I")):
            needle = struct.pack("<HHI", tag, typ, 1) + struct.pack(fmt, ifd[tag])
            at = out.find(needle)
            if at >= 0:
                out[at:at + len(needle)] = struct.pack("<HHI", tag, 4, 1) + struct.pack(
                    "<I", 100_000)
                if fmt == "<H":
                    out[at + len(needle):at + len(needle) + 2] = b"\x00\x00"
    return bytes(out)


def _declare_size(data: bytes, width: int, height: int) -> bytes:
    """An ISO BMFF image (HEIC, AVIF) with its 'ispe' box (the declared size) rewritten."""
    out = bytearray(data)
    at = out.find(b"ispe")
    struct.pack_into(">II", out, at + 8, width, height)  # after the box's version and flags
    return bytes(out)


def heic(img: Image.Image, **kw: object) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return save(img, "HEIF", **kw)


def heic_bomb_header() -> bytes:
    """A 64 x 64 HEIC (no clean-aperture crop) whose 'ispe' says 30000 x 30000 (900 Mpx)."""
    return _declare_size(heic(photo((64, 64))), 30_000, 30_000)


def avif_bomb_header() -> bytes:
    """A 64 x 64 AVIF whose 'ispe' says 16000 x 16000 (256 Mpx, within libavif's limits)."""
    return _declare_size(save(photo((64, 64)), "AVIF"), 16_000, 16_000)


def avif_absurd_header() -> bytes:
    """A 64 x 64 AVIF whose 'ispe' says 100000 x 100000 (past libavif's own limits)."""
    return _declare_size(save(photo((64, 64)), "AVIF"), 100_000, 100_000)


def garbage_icc_png() -> bytes:
    """A PNG whose iCCP chunk holds no ICC profile."""
    return save(photo(), "PNG", icc_profile=b"not an ICC profile " * 40)


def enormous_icc_jpeg() -> bytes:
    """A JPEG carrying a real profile padded to 6 MB (across about 100 APP2 segments)."""
    from tools import icc

    return save(photo(), "JPEG", icc_profile=icc.adobe_rgb() + b"\x00" * (6 << 20))


def iccp_bomb_png() -> bytes:
    """A PNG whose iCCP chunk inflates to 64 MB."""
    return _iccp_png(b"ICC Profile\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9))


def _iccp_png(body: bytes) -> bytes:
    img = photo((64, 48))
    rows = b"".join(b"\x00" + img.tobytes()[y * 64 * 3:(y + 1) * 64 * 3] for y in range(48))
    return png_raw(64, 48, 8, 2, rows, _chunk(b"iCCP", body))


def iccp_2mb_png() -> bytes:
    """A PNG whose real profile, padded, inflates to 2 MB (past Pillow's 1 MB, within ours)."""
    from tools import icc

    return _iccp_png(b"ICC Profile\x00\x00"
                     + zlib.compress(icc.adobe_rgb() + b"\x00" * (2 << 20), 9))


def iccp_corrupt_png() -> bytes:
    """A PNG whose iCCP chunk is not a zlib stream."""
    return _iccp_png(b"ICC Profile\x00\x00" + b"\x78\x9c not deflate data at all")


def iccp_unknown_method_png() -> bytes:
    """A PNG whose iCCP chunk names compression method 7 (only 0, zlib, exists)."""
    return _iccp_png(b"ICC Profile\x00\x07" + zlib.compress(b"\x00" * 200))


def cmyk_jpeg() -> bytes:
    return save(photo((90, 70)).convert("CMYK"), "JPEG", quality=90)


def animated_gif() -> bytes:
    frames = [photo((70, 50)).rotate(a).convert("P") for a in (0, 90, 180)]
    return save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def animated_webp() -> bytes:
    frames = [photo((70, 50)).rotate(a) for a in (0, 90, 180)]
    return save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50)


def exif_jpeg(orientation: int, size: tuple[int, int] = (120, 80)) -> bytes:
    """A phone-style JPEG stored sideways with an EXIF Orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    return save(photo(size), "JPEG", quality=90, exif=exif.tobytes())


def broken_exif_jpeg() -> bytes:
    """A JPEG whose APP1 Exif segment is garbage."""
    good = save(photo((60, 40)), "JPEG")
    app1 = b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\xff\xff" + b"\xff" * 40
    return good[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + good[2:]


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" '
       b'height="100"><image href="file:///etc/passwd"/><rect width="100" height="100"/></svg>')
HTML = b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]"
       b"/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
