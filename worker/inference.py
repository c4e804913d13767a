"""Our inference layer over onnxruntime: photo -> the model's foreground probability map.

The pre- and post-processing follow rembg's sessions for the same models (the reference the
quality benchmark compares against): Lanczos resize to the model's square input, scaling by
the image's maximum, per-model mean/std, NCHW float32; the first output's first channel,
min-max stretched to [0, 1]. Unlike rembg we stop at the model's resolution and keep floats:
turning that map into a full-size alpha is the refinement step's job (worker/refine.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from shared.models import ModelSpec

# (mean, std) per channel, as rembg normalises for each model family.
_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_CENTRED = ((0.5, 0.5, 0.5), (1.0, 1.0, 1.0))
NORMALISATION = {"u2netp": _IMAGENET, "u2net": _IMAGENET, "isnet": _CENTRED}


class Segmenter:
    """One loaded model: probability maps at its input resolution, one image or a batch."""

    def __init__(self, spec: ModelSpec, session: Any) -> None:
        self.spec = spec
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_name = session.get_outputs()[0].name  # the fused (final) map only
        # The shipped files declare batch 1; a file with a symbolic batch axis takes N at once.
        self.fixed_batch = session.get_inputs()[0].shape[0] == 1
        mean, std = NORMALISATION[spec.name]
        self._mean = np.asarray(mean, np.float32)
        self._inv_std = 1.0 / np.asarray(std, np.float32)

    def prepare(self, image: Image.Image) -> np.ndarray:
        """The model's input tensor [3, S, S] for an RGB image."""
        side = self.spec.input_size
        small = np.asarray(image.convert("RGB").resize((side, side), Image.Resampling.LANCZOS),
                           dtype=np.float32)
        small *= 1.0 / max(float(small.max()), 1e-6)
        small -= self._mean
        small *= self._inv_std
        return small.transpose(2, 0, 1)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Probability maps [N, S, S] in [0, 1] for prepared inputs [N, 3, S, S]."""
        if self.fixed_batch and len(batch) > 1:
            out = np.concatenate([self.session.run([self.output_name],
                                                   {self.input_name: item[None]})[0]
                                  for item in batch])[:, 0]
        else:
            out = self.session.run([self.output_name], {self.input_name: batch})[0][:, 0]
        lo = out.min(axis=(1, 2), keepdims=True)
        hi = out.max(axis=(1, 2), keepdims=True)
        return (out - lo) / np.maximum(hi - lo, 1e-12)

    def probability(self, image: Image.Image, flip: bool = False) -> np.ndarray:
        """[S, S] probability map; flip=True also runs the mirrored photo and averages."""
        x = self.prepare(image)[None]
        if not flip:
            return self.run(x)[0]
        both = self.run(np.concatenate([x, x[..., ::-1]]))
        return 0.5 * (both[0] + both[1][:, ::-1])
