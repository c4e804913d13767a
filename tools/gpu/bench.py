"""The worker's segment step on a GPU: img/s and p50 by batch size (tools/gpu/check.sh runs it).

For each model (GPU_MODEL, a comma list; default u2net plus each 1024-input family's model
whose file is installed: isnet-general-use, birefnet-general-lite, birefnet-general) and each
execution provider asked for (CUDA, and TensorRT when it is available) it loads the model
through the worker's own loader (worker.sessions.load_segmenter: hash check, and a refusal
when the provider is not active), then, at 1024x1024, for batch sizes
1, 4, 8 and 16: prepares the batch (resize, normalise), runs it in one call, and refines
every map to a full-size alpha, as a micro-batching worker does (MICRO_BATCH_SIZE).
Prints one line per provider and batch size; results also go to .bench/gpu.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

from shared.config import Settings
from worker import refine
from worker.sessions import ModelUnavailable, load_segmenter

BATCHES = (1, 4, 8, 16)
# Measured when their files are present (`MODELS=... make models` installs them).
LARGE = ("isnet-general-use", "birefnet-general-lite", "birefnet-general")
SECONDS = float(os.environ.get("GPU_SECONDS", "15"))


def photos(n: int) -> list[Image.Image]:
    from skimage import data as skdata

    base = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    return [Image.fromarray(base[i % len(base)]).resize((1024, 1024)) for i in range(n)]


def models() -> list[str]:
    """GPU_MODEL's models, or u2net and every LARGE model installed in U2NET_HOME."""
    if os.environ.get("GPU_MODEL"):
        return [m for m in os.environ["GPU_MODEL"].split(",") if m]
    settings = Settings.from_env(app_env="development")
    home = Path(settings.u2net_home)
    return ["u2net", *(m for m in LARGE if (home / settings.catalogue[m].filename).is_file())]


def measure(model: str, provider: str, batch: int, images: list[Image.Image]) -> dict:
    settings = Settings.from_env(app_env="development", model_name=model,
                                 model_precision=os.environ.get("GPU_PRECISION", "fp32"),
                                 ort_providers=f"{provider},CPUExecutionProvider")
    seg = load_segmenter(settings, model)
    x = seg.prepare_batch(images[:batch])
    for _ in range(3):  # warm: CUDA graphs, TensorRT engine build, cuDNN algorithm search
        seg.run(x)
    latencies: list[float] = []
    model_only: list[float] = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline and len(latencies) < 500:
        t0 = time.perf_counter()
        x = seg.prepare_batch(images[:batch])
        t1 = time.perf_counter()
        maps = seg.run(x)
        t2 = time.perf_counter()
        for image, prob in zip(images[:batch], maps, strict=True):
            refine.guided_alpha(image, prob)
        latencies.append(time.perf_counter() - t0)
        model_only.append(t2 - t1)
    p50 = statistics.median(latencies)
    return {"provider": provider, "model": model, "batch": batch, "size": "1024x1024",
            "input_side": seg.spec.input_size, "family": seg.spec.family,
            # rembg's files declare batch 1: a batch then runs image by image in one task.
            "batch_axis": not seg.fixed_batch,
            "images_per_s": round(batch / p50, 2), "p50_batch_s": round(p50, 4),
            "p50_model_s": round(statistics.median(model_only), 4), "runs": len(latencies),
            "active": seg.session.get_providers()}


def main() -> int:
    import onnxruntime as ort

    print(f"onnxruntime {ort.__version__}, available: {ort.get_available_providers()}")
    wanted = ["CUDAExecutionProvider"]
    if "TensorrtExecutionProvider" in ort.get_available_providers():
        wanted.insert(0, "TensorrtExecutionProvider")
    images = photos(max(BATCHES))
    refine.warm()
    rows = []
    for model in models():
        for provider in wanted:
            for batch in BATCHES:
                try:
                    row = measure(model, provider, batch, images)
                except (ModelUnavailable, RuntimeError) as exc:  # report it and go on
                    print(f"{provider} {model} batch {batch}: {exc}", file=sys.stderr)
                    continue
                rows.append(row)
                print(f"{provider:<28} {model} batch {batch:>2}  "
                      f"{row['images_per_s']:>7.2f} img/s"
                      f"  p50 {row['p50_batch_s'] * 1000:>7.1f} ms per batch"
                      f"  (model {row['p50_model_s'] * 1000:.1f} ms)", flush=True)
    out = Path(".bench")
    out.mkdir(exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(rows, indent=1))
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
