"""`make bench`, the segment stage alone: ours against rembg's own session, in one process.

What the worker's `segment` stage does (resize, normalise, onnxruntime, refinement to a
full-size alpha) for each precision, with our default refinement (guided) and with rembg's
own post-processing (none), against rembg's session.predict() for the same model (resize,
normalise, onnxruntime, Lanczos stretch of the mask): every session on one thread, as the
worker's pool processes run, in alternating rounds so that a busy spell of the machine
falls on every contender alike. The ratios are rembg's p50 over ours.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from tools.bench.common import Run, say
from tools.quality.peer import rembg_session

ROUNDS = int(os.environ.get("BENCH_SEGMENT_ROUNDS", "12"))
REMBG = "segment: rembg session"


def run(model: str, images: dict[str, bytes], sizes: list[str]) -> list[Run]:
    """One bench Run per contender and size (latency of one image, one thread)."""
    from PIL import Image

    from shared.config import Settings
    from worker import refine, segment
    from worker.sessions import load_segmenter

    home = os.environ.get("U2NET_HOME", ".models")
    providers = os.environ.get("BENCH_ORT_PROVIDERS", "CPUExecutionProvider")
    settings = Settings.from_env(app_env="development", u2net_home=home,
                                 ort_intra_op_threads=1, model_name=model,
                                 ort_providers=providers)
    tag = "" if providers.startswith("CPU") else f" {providers.split(',')[0][:-17]}"
    peer = rembg_session(model, Path(home), 1, settings.models_file)
    # Every file the model has: fp32 and int8 for U2-Net, fp32 alone for the others.
    ours = {p: load_segmenter(settings, model, p) for p in settings.model_spec.precisions}
    refine.warm()
    contenders = {REMBG: lambda img: peer.predict(img)} if peer is not None else {}
    for precision, seg in ours.items():
        for mode in ("guided", "none"):
            contenders[f"segment: ours {precision} {mode}{tag}"] = (
                lambda img, seg=seg, mode=mode: segment.mask(img, seg, mode))
    runs = []
    for size in sizes:
        say(f"segment stage, {size}: {len(contenders)} contenders x {ROUNDS} rounds")
        image = Image.open(io.BytesIO(images[size])).convert("RGB")
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for fn in contenders.values():  # warm
            fn(image)
        for _ in range(ROUNDS):
            for name, fn in contenders.items():
                t0 = time.perf_counter()
                fn(image)
                times[name].append(time.perf_counter() - t0)
        for name, latencies in times.items():
            runs.append(Run(name, size, 1, sum(latencies), ok=len(latencies),
                            latencies=latencies))
    return runs


def ratios(runs: list[Run]) -> dict[str, float]:
    """rembg session p50 / ours p50, per contender and size."""
    out = {}
    for peer in (r for r in runs if r.system == REMBG):
        for r in runs:
            if r.size == peer.size and r.system.startswith("segment: ours"):
                name = r.system.removeprefix("segment: ")
                out[f"{r.size} segment: rembg session / {name}"] = round(
                    peer.pct(50) / r.pct(50), 2)
    return out
