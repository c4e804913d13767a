"""Graph edits that turn a shipped U²-Net file into the fp32 graph we serve and quantise.

The same weights and the same arithmetic, verified output for output against the original
(`check_same`); only the graph around them changes:
- only the fused output is kept (rembg and we read nothing else; the six side maps are
  still computed, since the fused map is made from them, but no longer returned);
- the batch axis becomes symbolic ("N"): a micro-batching worker runs N photos in one call;
- opset 11 -> 13, which per-channel QDQ quantisation needs;
- every Resize gets constant scales instead of sizes computed at run time from Shape ops:
  the network's feature maps halve exactly (320 -> 160 -> ... -> 10) and are upsampled back
  by powers of two, so the scales are exact; this drops ~400 small shape nodes, and with them
  the Shape ops that would otherwise read quantised tensors.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper, version_converter

OPSET = 13
BATCH_AXIS = "N"


def keep_first_output(model: onnx.ModelProto) -> None:
    first = model.graph.output[0]
    keep = onnx.ValueInfoProto()
    keep.CopyFrom(first)
    del model.graph.output[:]
    model.graph.output.append(keep)


def symbolic_batch(model: onnx.ModelProto) -> None:
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_AXIS


def _probe(model: onnx.ModelProto, names: list[str], side: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the named tensors for one zero image of side x side (onnxruntime, CPU)."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                                None))
    session = ort.InferenceSession(probe.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, side, side), np.float32)
    values = session.run(names, {model.graph.input[0].name: x})
    return {name: value.shape for name, value in zip(names, values, strict=True)}


def constant_resize_scales(model: onnx.ModelProto, side: int) -> None:
    """Replace each Resize's run-time sizes by the constant scales they amount to."""
    resizes = [n for n in model.graph.node if n.op_type == "Resize"]
    shapes = _probe(model, sorted({t for n in resizes for t in (n.input[0], n.output[0])}),
                    side)
    for node in resizes:
        src, dst = shapes[node.input[0]], shapes[node.output[0]]
        scales = np.array([1.0, 1.0, dst[2] / src[2], dst[3] / src[3]], np.float32)
        if not all(float(s).is_integer() for s in scales):
            raise ValueError(f"{node.name}: {src} -> {dst} is not an integer upsampling")
        name = f"{node.name}_scales"
        model.graph.initializer.append(numpy_helper.from_array(scales, name))
        data = node.input[0]
        del node.input[:]
        node.input.extend([data, "", name])  # X, roi (none), scales


def prune(model: onnx.ModelProto) -> None:
    """Drop the nodes and initializers nothing reads any more (the Shape arithmetic)."""
    live = {o.name for o in model.graph.output}
    keep = []
    for node in reversed(model.graph.node):
        if any(o in live for o in node.output):
            keep.append(node)
            live.update(i for i in node.input if i)
    del model.graph.node[:]
    model.graph.node.extend(reversed(keep))
    used = [t for t in model.graph.initializer if t.name in live]
    del model.graph.initializer[:]
    model.graph.initializer.extend(used)


def serving_graph(source: str, side: int) -> onnx.ModelProto:
    """The fp32 graph we serve, from a shipped file (see the module docstring)."""
    model = onnx.load(source)
    keep_first_output(model)
    symbolic_batch(model)
    if model.opset_import[0].version < OPSET:
        model = version_converter.convert_version(model, OPSET)
    constant_resize_scales(model, side)
    prune(model)
    del model.graph.value_info[:]  # stale shapes from the exporter; onnxruntime infers them
    onnx.checker.check_model(model)
    return model


def check_same(source: str, derived: onnx.ModelProto, side: int) -> float:
    """Largest difference of the fused map between the shipped and the derived graph."""
    import onnxruntime as ort

    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 3, side, side)).astype(np.float32)
    a = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(derived.SerializeToString(), providers=["CPUExecutionProvider"])
    ya = a.run(None, {a.get_inputs()[0].name: x})[0]
    yb = b.run(None, {b.get_inputs()[0].name: np.concatenate([x, x])})[0]
    return float(max(np.abs(ya[0] - yb[0]).max(), np.abs(ya[0] - yb[1]).max()))
