"""Ground-truth pairs for `make quality`: a folder of sets, each with images/ and gt/.

DATA (default ../shared/quality) holds one folder per set, or is itself one set. A set's
ground truth is binary when its values are only 0, 255 and the unlabelled 128 (GrabCut's
band along outlines, left out of every score), soft (an alpha matte) otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
UNLABELLED = 128


@dataclass
class Pair:
    set_name: str
    stem: str
    image: Image.Image  # RGB, upright
    alpha: np.ndarray  # float32 [H, W] in [0, 1]
    valid: np.ndarray | None  # False where unlabelled
    soft: bool


def sets_in(root: Path) -> list[Path]:
    """The set folders under root (root itself when it holds images/ and gt/)."""
    if (root / "images").is_dir() and (root / "gt").is_dir():
        return [root]
    return sorted(p for p in root.iterdir()
                  if (p / "images").is_dir() and (p / "gt").is_dir())


def _gt_file(gt_dir: Path, stem: str) -> Path | None:
    return next((p for p in (gt_dir / (stem + s) for s in (".png", ".bmp", ".tif", ".jpg"))
                 if p.is_file()), None)


def _is_soft(gts: list[np.ndarray]) -> bool:
    values = np.unique(np.concatenate([np.unique(g) for g in gts]))
    return not set(values.tolist()) <= {0, UNLABELLED, 255}


def load_set(folder: Path, limit: int | None = None) -> list[Pair]:
    """Every image with a ground truth of its size (others are reported and left out)."""
    rows = []
    for path in sorted((folder / "images").iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        gt_path = _gt_file(folder / "gt", path.stem)
        if gt_path is None:
            print(f"[quality] {folder.name}/{path.name}: no ground truth, skipped")
            continue
        with Image.open(path) as im:
            image = ImageOps.exif_transpose(im).convert("RGB")
        with Image.open(gt_path) as g:
            gt = np.asarray(g.convert("L"))
        if gt.shape != (image.height, image.width):
            print(f"[quality] {folder.name}/{path.name}: ground truth size differs, skipped")
            continue
        rows.append((path.stem, image, gt))
        if limit and len(rows) >= limit:
            break
    soft = _is_soft([gt for _, _, gt in rows]) if rows else False
    pairs = []
    for stem, image, gt in rows:
        valid = None if soft else gt != UNLABELLED
        alpha = gt.astype(np.float32) / 255.0
        pairs.append(Pair(folder.name, stem, image, alpha, valid, soft))
    return pairs


def load(root: Path, limit: int | None = None) -> Iterator[list[Pair]]:
    for folder in sets_in(root):
        pairs = load_set(folder, limit)
        if pairs:
            yield pairs
