"""ICC profiles written byte by byte, for the tests and the bench (no profile file needed).

`adobe_rgb()`: a matrix/TRC RGB profile with Adobe RGB (1998)'s primaries and gamma, the
wide-gamut space many cameras and studios shoot in. `display_p3()`: Display P3, the space every
iPhone photo is tagged with (P3 primaries, D65 white, sRGB's curve). `cmyk()`: a small CMYK
printer profile (a 2-point lut8 from CMYK to Lab) with a recognisably different conversion from
Pillow's naive formula. All are ICC v2 (the P3 curve is v4's parametric type, which LittleCMS,
Pillow's ImageCms, reads in any version)."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import ImageCms

D50 = (0.9642, 1.0, 0.8249)
# Adobe RGB (1998)'s primaries, adapted to D50 as in its published profile; gamma 563/256.
ADOBE_RGB = ((0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087),
             (0.14919, 0.06322, 0.74457))
ADOBE_GAMMA = 563 / 256
# Display P3: DCI-P3's primaries (CIE xy) with a D65 white and sRGB's transfer curve.
DISPLAY_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
D65 = (0.3127, 0.3290)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + b"".join(_s15(v) for v in xyz)


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\x00"
    return (b"desc\x00\x00\x00\x00" + struct.pack(">I", len(ascii_)) + ascii_
            + b"\x00" * 8 + b"\x00\x00\x00" + b"\x00" * 67)


def _profile(device_class: bytes, space: bytes, pcs: bytes,
             tags: list[tuple[bytes, bytes]]) -> bytes:
    """Header, tag table and tag data (each tag 4-byte aligned)."""
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\x00" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + device_class
              + space + pcs + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp"
              + b"\x00" * 24 + struct.pack(">I", 0) + b"".join(_s15(v) for v in D50)
              + b"test" + b"\x00" * 44)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def adobe_rgb() -> bytes:
    """An Adobe-RGB-like display profile (matrix and gamma curves)."""
    gamma = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(ADOBE_GAMMA * 256)) + b"\x00\x00"
    r, g, b = ADOBE_RGB
    return _profile(b"mntr", b"RGB ", b"XYZ ", [
        (b"desc", _desc("Test Adobe RGB (1998) compatible")), (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(r)), (b"gXYZ", _xyz(g)), (b"bXYZ", _xyz(b)),
        (b"rTRC", gamma), (b"gTRC", gamma), (b"bTRC", gamma),
        (b"cprt", b"text\x00\x00\x00\x00No copyright, test data.\x00")])


def _d50_colorants(primaries: tuple[tuple[float, float], ...],
                   white: tuple[float, float]) -> np.ndarray:
    """Columns: the XYZ of each primary at full drive, Bradford-adapted from white to D50."""
    xy = np.array(primaries)
    xyz = np.stack([xy[:, 0] / xy[:, 1], np.ones(3), (1 - xy.sum(1)) / xy[:, 1]])
    white_xyz = np.array([white[0] / white[1], 1.0, (1 - sum(white)) / white[1]])
    to_xyz = xyz * np.linalg.solve(xyz, white_xyz)  # scale each primary to add up to white
    cone = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367],
                     [0.0389, -0.0685, 1.0296]])
    adapt = np.linalg.inv(cone) @ np.diag((cone @ np.array(D50)) / (cone @ white_xyz)) @ cone
    return adapt @ to_xyz


def display_p3() -> bytes:
    """A Display P3 profile (Apple's iPhone space): P3 primaries, D65 white, sRGB's curve."""
    colorants = _d50_colorants(DISPLAY_P3, D65)
    # sRGB's curve as a parametric curve (type 3): (a x + b)^g above d, c x below.
    srgb_curve = (b"para\x00\x00\x00\x00" + struct.pack(">HH", 3, 0)
                  + b"".join(_s15(v) for v in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92,
                                               0.04045)))
    return _profile(b"mntr", b"RGB ", b"XYZ ", [
        (b"desc", _desc("Test Display P3")), (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(tuple(colorants[:, 0]))), (b"gXYZ", _xyz(tuple(colorants[:, 1]))),
        (b"bXYZ", _xyz(tuple(colorants[:, 2]))),
        (b"rTRC", srgb_curve), (b"gTRC", srgb_curve), (b"bTRC", srgb_curve),
        (b"cprt", b"text\x00\x00\x00\x00No copyright, test data.\x00")])


def _lab_of_srgb(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(rgb.reshape(1, -1, 3), illuminant="D50").reshape(-1, 3)


def cmyk() -> bytes:
    """A CMYK printer profile: CMYK -> Lab through a 2x2x2x2 grid (lut8, AToB0)."""
    corners = np.array([[(n >> (3 - i)) & 1 for i in range(4)] for n in range(16)], float)
    c, m, y, k = corners.T
    # Inks a little warmer than Pillow's naive 255 - ink: a conversion tests can tell apart.
    rgb = np.stack([(1 - c * 0.9) * (1 - k * 0.95), (1 - m * 0.85) * (1 - k * 0.95),
                    (1 - y * 0.8) * (1 - k * 0.95)], axis=1)
    lab = _lab_of_srgb(np.clip(rgb, 0, 1))
    grid = np.rint(np.stack([lab[:, 0] * 255 / 100, lab[:, 1] + 128, lab[:, 2] + 128],
                            axis=1)).clip(0, 255).astype(np.uint8)
    identity = bytes(range(256))
    lut = (b"mft1\x00\x00\x00\x00" + bytes([4, 3, 2, 0])
           + b"".join(_s15(1.0 if i == j else 0.0) for i in range(3) for j in range(3))
           + identity * 4 + grid.tobytes() + identity * 3)
    return _profile(b"prtr", b"CMYK", b"Lab ", [
        (b"desc", _desc("Test CMYK")), (b"wtpt", _xyz(D50)), (b"A2B0", lut),
        (b"cprt", b"text\x00\x00\x00\x00No copyright, test data.\x00")])


def read(data: bytes) -> ImageCms.ImageCmsProfile:
    """A profile's bytes as LittleCMS reads them (to convert the tests' pixels through it)."""
    return ImageCms.ImageCmsProfile(io.BytesIO(data))
