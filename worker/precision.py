"""Which of a model's files this CPU serves: MODEL_PRECISION=auto, fp32 or int8.

int8 is a property of the machine, not of the file: `make models` derives the same bytes
everywhere (md5-pinned), but onnxruntime's integer kernels compute differently with and without
VNNI/AMX, and u2netp's int8 map agrees with fp32 on 99.7 % of pixels on one AMD EPYC with
AVX-512 VNNI and on 98.4 % on another with AVX2 only. So the worker checks it where it serves:
once per node, before the pool forks (worker/sessions.check_startup), on three built-in photos
that calibration never saw, it runs both files, compares the maps and times both.

- auto (the default): int8 when its maps agree with fp32's within the tolerance below
  **and** it is at least MIN_SPEEDUP faster here; otherwise fp32.
- int8: served only where it is accurate; elsewhere the worker refuses to start, naming the
  CPU and the agreement measured.
- fp32: always, without a check.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from worker.cpu import CpuInfo

# Per check photo, on the model's min-max stretched map: the largest mean |int8 - fp32| and
# the smallest share of pixels on the same side of 0.5 (what `make models` used to require;
# measured 0.002-0.005 / 99.7 % for u2netp on a VNNI CPU, 0.016 / 98.4 % on an AVX2-only one).
MAX_MEAN_ERROR = 0.01
MIN_AGREEMENT = 0.99
# int8 must beat fp32 by this much to be worth its (small) loss of accuracy: below it the
# difference is within what a shared host's timing noise gives.
MIN_SPEEDUP = 1.1


class Int8Refused(RuntimeError):
    """MODEL_PRECISION=int8 on a CPU where int8's maps are outside the tolerance."""


@dataclass(frozen=True)
class Check:
    """int8 against fp32 on the check photos: the worst photo's figures, and run times."""

    mean_error: float
    agreement: float
    fp32_ms: float
    int8_ms: float

    @property
    def accurate(self) -> bool:
        return self.mean_error <= MAX_MEAN_ERROR and self.agreement >= MIN_AGREEMENT

    @property
    def speedup(self) -> float:
        return self.fp32_ms / max(self.int8_ms, 1e-9)

    def as_dict(self) -> dict[str, float]:
        return {"agreement": round(self.agreement, 4), "mean_error": round(self.mean_error, 4),
                "fp32_ms": round(self.fp32_ms, 1), "int8_ms": round(self.int8_ms, 1),
                "speedup": round(self.speedup, 2)}


@dataclass(frozen=True)
class Choice:
    """The precision a worker serves and why, as /readyz, the log and the metric show it."""

    precision: str
    reason: str
    check: Check | None = None


def check_photos() -> list[Image.Image]:
    """Photos for the int8-vs-fp32 check, none of them used for calibration (they ship inside
    scikit-image, which the worker has through rembg: nothing is downloaded)."""
    from PIL import ImageOps
    from skimage import data as skdata

    astronaut = Image.fromarray(skdata.astronaut())
    return [astronaut, ImageOps.mirror(astronaut).rotate(10),
            Image.fromarray(skdata.stereo_motorcycle()[1]).convert("RGB")]


def measure(fp32: Any, int8: Any, photos: Sequence[Image.Image] | None = None) -> Check:
    """Run both segmenters (worker.inference.Segmenter) on each photo, alternating.

    The times are the medians over the photos: a session's first run (it allocates its
    buffers) or one slow run on a shared host does not decide, and no untimed warm-up run
    adds to the worker's start.
    """
    photos = list(photos) if photos is not None else check_photos()
    inputs = [fp32.prepare(photo)[None] for photo in photos]
    worst_error, worst_agreement = 0.0, 1.0
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    for x in inputs:
        maps = {}
        for name, segmenter in (("fp32", fp32), ("int8", int8)):
            started = time.perf_counter()
            maps[name] = segmenter.run(x)[0]
            times[name].append((time.perf_counter() - started) * 1000)
        a, b = maps["fp32"], maps["int8"]
        worst_error = max(worst_error, float(np.abs(a - b).mean()))
        worst_agreement = min(worst_agreement, float(((a >= 0.5) == (b >= 0.5)).mean()))
    return Check(worst_error, worst_agreement, statistics.median(times["fp32"]),
                 statistics.median(times["int8"]))


def decide(requested: str, check: Check | None, cpu: CpuInfo) -> Choice:
    """The precision to serve for MODEL_PRECISION=`requested` given the check's figures.

    `check` is None where no check ran: fp32 asked for, or a model without an int8 file.
    Raises Int8Refused for an explicit int8 that is not accurate on this CPU.
    """
    if requested == "fp32":
        return Choice("fp32", "fp32: as configured (MODEL_PRECISION=fp32)")
    if check is None:
        return Choice("fp32", "fp32: this model has no int8 file")
    figures = f"agreement {check.agreement:.3f}, mean error {check.mean_error:.4f}"
    if not check.accurate:
        why = (f"int8 agreement {check.agreement:.3f} below {MIN_AGREEMENT}"
               if check.agreement < MIN_AGREEMENT else
               f"int8 mean error {check.mean_error:.4f} above {MAX_MEAN_ERROR}")
        if requested == "int8":
            raise Int8Refused(
                f"MODEL_PRECISION=int8 refused: {why} on the check photos on this CPU, "
                f"{cpu.describe()}. int8 kernels compute differently from CPU to CPU; use "
                f"MODEL_PRECISION=auto (serves fp32 here) or fp32")
        return Choice("fp32", f"fp32: {why} on {cpu.model}", check)
    if requested == "int8":
        return Choice("int8", f"int8: as configured; {figures}, {check.speedup:.1f}x fp32's "
                              f"speed", check)
    if check.speedup < MIN_SPEEDUP:
        return Choice("fp32", f"fp32: int8 accurate ({figures}) but only {check.speedup:.2f}x "
                              f"as fast (needs {MIN_SPEEDUP}x) on {cpu.model}", check)
    return Choice("int8", f"int8: {figures}, {check.speedup:.1f}x faster than fp32", check)
