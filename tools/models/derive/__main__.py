"""`make models`: derive the serving files (fp32 with a batch axis, int8) from the pinned weights.

For every model named in MODELS (default u2netp,u2net) that has derived files in
shared/models.py: check the source weights' md5, build the fp32 serving graph
(tools/models/derive/graph.py) and check it computes what the shipped file does, calibrate on
scikit-image photos (calibration.py), quantise (quantize.py), and compare each file's md5
with its pin. Nothing here depends on the CPU: int8's accuracy on the serving CPU is checked
by the worker at start (worker/precision.py).
A file already present with its pinned md5 is left alone. `FORCE=1` rebuilds anyway.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import onnx

from shared.models import DEFAULT_INSTALL, ModelSpec, catalogue, parse_names
from tools.models.derive import calibration, graph, quantize
from tools.models.install import md5_of


def say(msg: str) -> None:
    print(f"[models] {msg}", flush=True)


def _write(model: onnx.ModelProto, target: Path, pin: str) -> None:
    part = target.with_suffix(".part")
    onnx.save(model, part)
    got = md5_of(part)
    part.replace(target)  # kept either way, to be inspected (or pinned, after a change here)
    if got != pin:
        # The worker would refuse it: stop here, where the cause is near (a changed derive
        # step, or another onnx / onnxruntime version than pyproject.toml's pins).
        raise SystemExit(f"[models] {target.name}: md5 {got} differs from the pin {pin} in "
                         f"shared/models.py")
    say(f"{target.name}: md5 {got}, the pin")


def derive(spec: ModelSpec, home: Path, force: bool) -> None:
    targets = {d.precision: (home / d.filename, d.md5) for d in spec.derived}
    if not force and all(p.is_file() and md5_of(p) == pin for p, pin in targets.values()):
        say(f"{spec.name}: derived files present")
        return
    source = home / spec.filename
    if not source.is_file() or md5_of(source) != spec.md5:
        raise SystemExit(f"[models] {source} is missing or not the pinned file: run make setup")
    started = time.perf_counter()
    fp32 = graph.serving_graph(str(source), spec.input_size)
    diff = graph.check_same(str(source), fp32, spec.input_size)
    if diff > 1e-5:
        raise SystemExit(f"[models] {spec.name}: serving graph differs from the shipped one "
                         f"by {diff}")
    _write(fp32, *targets["fp32"])
    if "int8" in targets:
        batches = list(calibration.inputs(spec, calibration.images()))
        recipe = quantize.RECIPES[spec.name]
        stats = calibration.activation_stats(fp32, batches)
        ranges = stats.means if recipe.ranges == "mean" else stats.extremes
        keep = quantize.float_nodes(fp32, stats, recipe)
        say(f"{spec.name}: calibrated on {len(batches)} photos; kept in float: "
            f"{', '.join(keep) or 'nothing'}")
        # No accuracy check here: the bytes are the same on every CPU (the md5 pin proves
        # it), but how close int8 computes to fp32 depends on the CPU that serves it, so the
        # worker checks that where it runs (worker/precision.py, MODEL_PRECISION=auto).
        _write(quantize.quantize(fp32, ranges, keep), *targets["int8"])
    say(f"{spec.name}: derived in {time.perf_counter() - started:.0f} s")


def main() -> None:
    home = Path(os.environ.get("U2NET_HOME") or ".models")
    try:
        # MODELS may name MODELS_FILE entries too (none has derived files: fp32 only).
        known = catalogue(os.environ.get("MODELS_FILE", ""))
        names = parse_names(os.environ.get("MODELS") or DEFAULT_INSTALL, known)
    except ValueError as exc:
        raise SystemExit(f"[models] MODELS: {exc}") from exc
    force = os.environ.get("FORCE", "") not in ("", "0")
    for name in names:
        if known[name].derived:
            derive(known[name], home, force)


if __name__ == "__main__":
    main()
