"""Small ONNX models with each family's real input/output signature and a known map.

Every model undoes its family's normalisation on the red channel (r = x * std + mean, the
photo's red over its peak, in [0, 1]) and answers K * (r - 0.5): as logits where the family
emits logits (BiRefNet), through a sigmoid where the real graphs end in one. Outputs other
than the family's final map answer something else (1 - map), so reading the wrong output,
the wrong normalisation, or a missing sigmoid all change the alpha the API returns.
The names and counts follow the real exports (rembg's files: U2-Net's input.1 and seven
outputs; DIS's input_image / output_image and its side outputs; BiRefNet's conversion's
input_image / output_image); BEN2's and RMBG-2.0's names are not checked against the real
files (the worker reads outputs by position and the only input whatever its name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

K = 6.0  # slope: a gradient photo gives maps across the whole 0..1 range
SIDE = 64  # every family takes input_size from MODELS_FILE: small keeps the tests fast


@dataclass(frozen=True)
class Signature:
    family: str
    input_name: str
    outputs: tuple[str, ...]  # the first is the final map (the one the family reads)
    logits: bool
    # What the test computes the family's normalisation to be (rembg's session code).
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
SIGNATURES = {
    "u2net": Signature("u2net", "input.1", tuple(str(n) for n in range(1959, 1966)), False,
                       *IMAGENET),
    "isnet": Signature("isnet", "input_image",
                       ("output_image", *(f"side_{i}" for i in range(2, 7))), False,
                       (0.485, 0.456, 0.406), (1.0, 1.0, 1.0)),
    "birefnet": Signature("birefnet", "input_image", ("output_image",), True, *IMAGENET),
    "ben": Signature("ben", "input", ("output",), False, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0)),
    "bria": Signature("bria", "pixel_values", ("alphas",), False, *IMAGENET),
}


def build(sig: Signature, side: int, path: Path) -> None:
    """Write the synthetic model of sig's family, input 1 x 3 x side x side, to path."""
    const = {
        "starts": np.array([0], np.int64), "ends": np.array([1], np.int64),
        "axes": np.array([1], np.int64), "std": np.array(sig.std[0], np.float32),
        "mean_minus_half": np.array(sig.mean[0] - 0.5, np.float32),
        "k": np.array(K, np.float32),
    }
    if len(sig.outputs) > 1:
        const["one"] = np.array(1.0, np.float32)
    nodes = [
        helper.make_node("Slice", [sig.input_name, "starts", "ends", "axes"], ["red"]),
        helper.make_node("Mul", ["red", "std"], ["red_scaled"]),
        helper.make_node("Add", ["red_scaled", "mean_minus_half"], ["centred"]),
        helper.make_node("Mul", ["centred", "k"], ["logits"]),
    ]
    final = sig.outputs[0]
    if sig.logits:
        nodes.append(helper.make_node("Identity", ["logits"], [final]))
    else:
        nodes.append(helper.make_node("Sigmoid", ["logits"], [final]))
    for name in sig.outputs[1:]:  # decoys: the complement of the map
        nodes.append(helper.make_node("Sub", ["one", final], [name]))
    shape = [1, 1, side, side]
    graph = helper.make_graph(
        nodes, f"synthetic-{sig.family}",
        [helper.make_tensor_value_info(sig.input_name, TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in sig.outputs],
        [numpy_helper.from_array(v, k) for k, v in const.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what the pinned onnxruntime reads
    onnx.checker.check_model(model)
    onnx.save(model, path)


def expected_map(sig: Signature, pixels: np.ndarray) -> np.ndarray:
    """The probability map the family must yield for a photo already at the model's side
    (H x W x 3 uint8): what the synthetic model computes, sigmoid'd and min-max stretched."""
    r = pixels[:, :, 0].astype(np.float64) / max(float(pixels.max()), 1e-6)
    m = 1.0 / (1.0 + np.exp(-K * (r - 0.5)))
    return (m - m.min()) / max(m.max() - m.min(), 1e-12)


def photo() -> Image.Image:
    """Gradients: red across (peak 200, so the max-scaling matters), green down, blue flat."""
    w, h = 160, 120
    red = np.tile(np.linspace(0, 200, w), (h, 1))
    green = np.tile(np.linspace(0, 150, h)[:, None], (1, w))
    pixels = np.stack([red, green, np.full((h, w), 60.0)], axis=2).round().astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def expected_alpha(family: str, image: Image.Image) -> np.ndarray:
    small = np.asarray(image.resize((SIDE, SIDE), Image.Resampling.LANCZOS))
    prob = expected_map(SIGNATURES[family], small)
    mask = Image.fromarray((prob * 255).astype(np.uint8), "L")
    return np.asarray(mask.resize(image.size, Image.Resampling.LANCZOS)).astype(int)
