"""Static int8 (QDQ) quantisation of the serving graph, and which nodes stay in float.

Measured on u2netp (docs/models.md): per-tensor u8 activations, per-channel s8 weights,
MinMax ranges. Three things decide whether the mask survives:
- per-channel weights (U²-Net's folded batch-norm gives channels of very different scale);
- for u2net, ranges as the mean of each calibration photo's extremes (RECIPES);
- keeping in float the few nodes around an outlier channel (`float_nodes`): in u2netp a
  near-constant channel at ~228 passes Conv -> Relu -> Resize -> Concat into a Conv whose
  other inputs stay below ~15; quantised, the integer Resize rounds that channel by one or
  two steps of 0.9 and the next Conv amplifies it into a wrong mask (mean error 0.19);
- u8 activations: s8 ones take slower kernels here (3x) for no accuracy gain.
Calibration is our own pass (calibration.py) written as onnxruntime's calibration cache, with
every range widened outward to a grid of 2^(1/16) steps: float noise between CPUs (AVX2 and
AVX-512 kernels round differently) then almost never changes a scale, so the int8 file
comes out byte-identical wherever it is built.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from tools.models.derive.calibration import Stats

GRID_STEPS_PER_OCTAVE = 16


@dataclass(frozen=True)
class Recipe:
    """How one model is quantised: each choice the one that measured best (check photos)."""

    # A tensor whose largest channel peaks above this multiple of its median channel's
    # peak keeps its producer and consumers in float.
    outlier_ratio: float
    # "extremes": each tensor's range over all calibration photos; "mean": the mean of each
    # photo's extremes (a rare peak clips instead of coarsening every other photo's steps).
    ranges: str
    # Keep in float the nodes whose output has fewer channels than this: U²-Net's head (six
    # 1-channel side maps, upsampled, concatenated, fused by a 1x1 convolution), ~1 % of the
    # compute and the last word on every pixel. 0: quantise the head too.
    float_head_below: int = 0


# Mean |int8 - fp32| on the worst check photo, ms per run (same run, one thread):
# u2netp: (12, extremes) 0.0049, 187 ms; (8, mean) 0.0054, 238 ms (8 also floats its first
#   convolutions, at full resolution). Its only outlier chain scores 13.7-16.5, the next 10.2.
# u2net: (12, extremes) 0.0144; (8, extremes) 0.0084; (12, mean) 0.0113; (8, mean) 0.0066.
# u2netp's head quantised cost it 0.007 of DAVIS IoU in make quality (limit 0.005), most of it
# on one photo the fp32 model already gets wrong (IoU 0.14 -> 0.04); with the head in float:
# docs/models.md.
RECIPES = {"u2netp": Recipe(12.0, "extremes", float_head_below=8),
           "u2net": Recipe(8.0, "mean")}


def widen(value: float) -> float:
    """|value| rounded up to the grid 2^(k/16), keeping its sign; 0 stays 0."""
    if value == 0.0:
        return 0.0
    k = math.ceil(GRID_STEPS_PER_OCTAVE * math.log2(abs(value)) - 1e-9)
    return math.copysign(2.0 ** (k / GRID_STEPS_PER_OCTAVE), value)


def float_nodes(model: onnx.ModelProto, stats: Stats, recipe: Recipe) -> list[str]:
    """Nodes that produce or read a tensor with an outlier channel, and the head's nodes."""
    hot = {name for name, ratio in stats.ratios.items() if ratio > recipe.outlier_ratio}
    head = {name for name, n in stats.channels.items() if n < recipe.float_head_below}
    return [node.name for node in model.graph.node
            if hot & set(node.output) or hot & set(node.input) or head & set(node.output)]


def _cache(ranges: dict[str, tuple[float, float]], path: Path) -> None:
    from onnxruntime.quantization.calibrate import (
        CalibrationMethod,
        TensorData,
        TensorsData,
        save_tensors_data,
    )

    data = {name: TensorData(lowest=np.float32(widen(lo)), highest=np.float32(widen(hi)))
            for name, (lo, hi) in ranges.items()}
    save_tensors_data(TensorsData(CalibrationMethod.MinMax, data), path)


def quantize(model: onnx.ModelProto, ranges: dict[str, tuple[float, float]],
             keep_float: list[str]) -> onnx.ModelProto:
    """The QDQ int8 model for the fp32 serving graph, from precomputed ranges."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory(prefix="bgr-quant-") as tmp:
        src, dst, cache = Path(tmp, "fp32.onnx"), Path(tmp, "int8.onnx"), Path(tmp, "cal.json")
        onnx.save(model, src)
        _cache(ranges, cache)
        quantize_static(
            str(src), str(dst), calibration_data_reader=None, calibration_cache_path=cache,
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_float,
            # The fused map's Sigmoid stays float: its 0..1 output is min-max stretched
            # afterwards, where 256 levels would show as banding.
            op_types_to_quantize=["Conv", "Relu", "MaxPool", "Resize", "Concat", "Add"],
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        return onnx.load(dst)
