"""Our inference layer over onnxruntime: photo -> the model's foreground probability map.

The pre- and post-processing are the model's family's (shared/families.py), as rembg's
sessions do them for the same files (the reference the quality benchmark compares against):
Lanczos resize to the model's square input, scaling by the image's maximum, the family's
mean/std, NCHW float32; the family's output's first channel, through a sigmoid where the family
emits logits (BiRefNet), min-max stretched to [0, 1]. Unlike rembg we stop at the model's
resolution and keep floats: turning that map into a full-size alpha is the refinement's
job (worker/segment.py).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from PIL import Image

from shared.families import Family
from shared.models import ModelSpec

# Above this many times the model's input side, Pillow first box-reduces the photo by an
# integer factor, then resamples with Lanczos (reducing_gap): at 4000x3000 -> 320 the resize
# costs ~8x less and the input tensor moves by < 0.5 % of its range (make quality measures it).
REDUCING_GAP = 3.0


def resize_for(image: Image.Image, side: int) -> Image.Image:
    """The photo as the model sees it: RGB, side x side, Lanczos (after a box pre-reduction)."""
    if image.mode != "RGB":
        image = image.convert("RGB")  # convert() copies even when the mode already matches
    gap = REDUCING_GAP if max(image.size) > REDUCING_GAP * side else None
    return image.resize((side, side), Image.Resampling.LANCZOS, reducing_gap=gap)


def prepare(image: Image.Image, spec: ModelSpec, out: np.ndarray | None = None) -> np.ndarray:
    """The model's input tensor [3, S, S] (float32, C-contiguous) for a photo.

    rembg's (x / max - mean) / std is one multiply-add per channel, x * a_c + b_c, written
    straight into the NCHW planes: no HWC float copy and no transposed copy onnxruntime would
    have to make contiguous again.
    """
    side = spec.input_size
    pixels = np.asarray(resize_for(image, side))
    mean, std = spec.mean_std
    peak = max(float(pixels.max()), 1e-6)
    if out is None:
        out = np.empty((3, side, side), np.float32)
    for c in range(3):
        scale = np.float32(1.0 / (peak * std[c]))
        offset = np.float32(-mean[c] / std[c])
        np.multiply(pixels[:, :, c], scale, out=out[c], dtype=np.float32)
        out[c] += offset
    return out


def finish(out: np.ndarray, family: Family) -> np.ndarray:
    """The family's raw maps [N, S, S] as probability maps in [0, 1], in place where it can."""
    if family.sigmoid:
        # Clipped first: exp() of a float32 logit below -88 overflows (and warns).
        out = 1.0 / (1.0 + np.exp(-np.clip(out, -80.0, 80.0)))
    if family.minmax:
        lo = out.min(axis=(1, 2), keepdims=True)
        hi = out.max(axis=(1, 2), keepdims=True)
        out -= lo
        out /= np.maximum(hi - lo, 1e-12)
    return out


class ProbabilityModel(Protocol):
    """What the pipeline needs of a model: a Segmenter, or a MicroBatcher sharing one."""

    spec: ModelSpec

    def probability(self, image: Image.Image, flip: bool = False) -> np.ndarray: ...


class Segmenter:
    """One loaded model: probability maps at its input resolution, one image or a batch."""

    def __init__(self, spec: ModelSpec, session: Any, precision: str = "fp32") -> None:
        self.spec = spec
        self.session = session
        self.precision = precision
        self.input_name = session.get_inputs()[0].name
        self.family = spec.family_info
        # The family's final map only (U2-Net's and ISNet's side outputs are not read).
        self.output_name = session.get_outputs()[self.family.output].name
        # The shipped files declare batch 1; a file with a symbolic batch axis takes N at once.
        self.fixed_batch = session.get_inputs()[0].shape[0] == 1

    def prepare(self, image: Image.Image) -> np.ndarray:
        """The model's input tensor [3, S, S] for an RGB image."""
        return prepare(image, self.spec)

    def prepare_batch(self, images: list[Image.Image]) -> np.ndarray:
        """Input tensors [N, 3, S, S], each written in place into one batch array."""
        side = self.spec.input_size
        batch = np.empty((len(images), 3, side, side), np.float32)
        for i, image in enumerate(images):
            prepare(image, self.spec, out=batch[i])
        return batch

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Probability maps [N, S, S] in [0, 1] for prepared inputs [N, 3, S, S]."""
        if self.fixed_batch and len(batch) > 1:
            out = np.concatenate([self.session.run([self.output_name],
                                                   {self.input_name: item[None]})[0]
                                  for item in batch])[:, 0]
        else:
            out = self.session.run([self.output_name], {self.input_name: batch})[0][:, 0]
        return finish(out, self.family)

    def probability(self, image: Image.Image, flip: bool = False) -> np.ndarray:
        """[S, S] probability map; flip=True also runs the mirrored photo and averages."""
        x = self.prepare(image)[None]
        if not flip:
            return self.run(x)[0]
        both = self.run(np.concatenate([x, x[..., ::-1]]))
        return 0.5 * (both[0] + both[1][:, ::-1])
