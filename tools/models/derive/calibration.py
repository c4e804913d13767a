"""Calibration photos and activation statistics for the int8 quantisation.

The photos ship inside scikit-image (no download) and none of them is in the quality sets
(`make quality` scores GrabCut, DAVIS and Composition-1k images) or in the unit tests' photo
(the astronaut, kept out on purpose): each photo, its mirror image and a centre crop, and
composites of a subject cut by a soft ellipse onto a texture, so that the ranges also see
clean subject edges on busy backgrounds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import onnx
from PIL import Image, ImageFilter, ImageOps

from shared.models import ModelSpec
from worker.inference import prepare

PHOTOS = ("chelsea", "coffee", "rocket", "camera", "horse", "coins", "hubble_deep_field",
          "retina", "immunohistochemistry", "page", "motorcycle_left")
# (subject, texture): subjects cut by an ellipse and laid onto a texture photo.
COMPOSITES = (("chelsea", "grass"), ("coffee", "brick"), ("rocket", "gravel"),
              ("motorcycle_left", "grass"))


def _photo(name: str) -> Image.Image:
    from skimage import data as skdata

    pixels = (skdata.stereo_motorcycle()[0] if name == "motorcycle_left"
              else getattr(skdata, name)())
    return Image.fromarray(pixels).convert("RGB")


def _composite(subject: Image.Image, texture: Image.Image) -> Image.Image:
    w, h = subject.size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    inside = ((x - w / 2) / (0.35 * w)) ** 2 + ((y - h / 2) / (0.42 * h)) ** 2 <= 1.0
    mask = Image.fromarray((inside * 255).astype(np.uint8), "L").filter(
        ImageFilter.GaussianBlur(2))
    out = texture.resize((w, h), Image.Resampling.BILINEAR)
    out.paste(subject, (0, 0), mask)
    return out


def images() -> list[Image.Image]:
    """The calibration photos, in a fixed order (the ranges must not depend on it, but a
    fixed order keeps every run identical)."""
    out = []
    for name in PHOTOS:
        photo = _photo(name)
        w, h = photo.size
        out += [photo, ImageOps.mirror(photo), photo.crop((w // 8, h // 8, w - w // 8,
                                                            h - h // 8))]
    for subject, texture in COMPOSITES:
        out.append(_composite(_photo(subject), _photo(texture)))
    return out


def inputs(spec: ModelSpec, photos: list[Image.Image]) -> Iterator[np.ndarray]:
    for photo in photos:
        yield prepare(photo, spec)[None]


Ranges = dict[str, tuple[float, float]]


class Stats(NamedTuple):
    extremes: Ranges  # (min, max) over all batches
    means: Ranges  # the mean of each batch's (min, max): onnxruntime's "moving average"
    ratios: dict[str, float]  # outlier ratio, below
    channels: dict[str, int]  # channels of every 4-D tensor


def activation_stats(model: onnx.ModelProto, batches: list[np.ndarray]) -> Stats:
    """Per float tensor: its ranges, its outlier ratio and its channel count.

    The outlier ratio is the largest channel's absolute peak over the median channel's: a
    tensor where one channel runs ~15x higher than the rest (u2netp has one, a near-constant
    channel at ~228 while the others stay below ~15) cannot share one int8 scale per tensor
    without flattening every other channel to a few steps.
    """
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [model.graph.input[0].name] + [n.output[0] for n in model.graph.node]
    del probe.graph.output[:]
    for name in names:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(
            name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    # Plain kernels: the statistics should not depend on which fusions this CPU gets.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(probe.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    lo: dict[str, list[float]] = {name: [] for name in names}
    hi: dict[str, list[float]] = {name: [] for name in names}
    peaks: dict[str, np.ndarray] = {}
    for batch in batches:
        for name, value in zip(names, session.run(names, {names[0]: batch}), strict=True):
            lo[name].append(float(value.min()))
            hi[name].append(float(value.max()))
            if value.ndim == 4:
                peak = np.abs(value).max(axis=(0, 2, 3))
                peaks[name] = np.maximum(peaks.get(name, 0.0), peak)
    ratios = {name: float(p.max() / max(float(np.median(p)), 1e-6))
              for name, p in peaks.items() if p.size > 1}
    extremes = {name: (min(lo[name]), max(hi[name])) for name in names}
    means = {name: (float(np.mean(lo[name])), float(np.mean(hi[name]))) for name in names}
    return Stats(extremes, means, ratios, {name: p.size for name, p in peaks.items()})
