"""Segment: an RGB photo -> its subject's alpha matte, full size (a mode "L" image).

Two steps. The model (worker/inference.py, loaded once per process by worker/sessions.py, or
shared by a process's threads through worker/batching.py) gives a probability map at its own
input resolution: 320 px square for U2-Net, 1024 for ISNet. The refinement then turns that map
into a full-size alpha: "guided" (the default, REFINE) snaps it to the photo's own edges at full
resolution (worker/refine.py); "none" does what rembg does (an 8-bit map, stretched with
Lanczos), so that its output matches rembg.remove()'s. flip (TTA_FLIP) also runs the mirrored
photo and averages the two maps (test-time augmentation).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from worker import refine
from worker.inference import ProbabilityModel


def mask(image: Image.Image, segmenter: ProbabilityModel, refine_mode: str = "guided",
         flip: bool = False) -> Image.Image:
    """The subject's alpha for an RGB image (mode "L", the image's size)."""
    return mask_from_map(image, segmenter.probability(image, flip=flip), refine_mode)


def mask_from_map(image: Image.Image, prob: np.ndarray, refine_mode: str = "guided") -> Image.Image:
    """The full-size alpha from the model's probability map prob [S, S] of image."""
    if refine_mode == "guided":
        return Image.fromarray(refine.guided_alpha(image, prob), "L")
    small = Image.fromarray((np.clip(prob, 0.0, 1.0) * 255).astype(np.uint8), "L")
    return small.resize(image.size, Image.Resampling.LANCZOS)
