"""What every part of the benchmark shares: settings, the measured case, load loops, photos."""

from __future__ import annotations

import io
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.stack.processes import REPO

BENCH = REPO / ".bench"
QUICK = os.environ.get("QUICK", "") not in ("", "0")
SIZES = {"1024x1024": (1024, 1024), "4000x3000": (4000, 3000)}
CORES = os.cpu_count() or 1
# Model under test (u2netp, u2net): the API, rembg.remove() and rembg s all run it.
MODEL = os.environ.get("BENCH_MODEL", "u2netp")
# The API once per MODEL_PRECISION (a fresh worker each): "api" is fp32, "api int8" the int8
# file, "api auto:int8" (or auto:fp32) what the default rule chose on this CPU. An int8 that
# this CPU refuses gives no rows, and says why.
PRECISIONS = [p for p in os.environ.get("BENCH_PRECISIONS", "auto,fp32").split(",") if p]


@dataclass
class Run:
    """One measured case: who, which image, how many clients, what came out."""

    system: str
    size: str
    clients: int
    seconds: float
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    output_bytes: list[int] = field(default_factory=list)
    overhead_ms: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

    def summary(self) -> dict:
        return {"system": self.system, "size": self.size, "clients": self.clients,
                "images_per_s": round(self.rate, 3), "p50_s": round(self.pct(50), 3),
                "p95_s": round(self.pct(95), 3), "ok": self.ok, "errors": self.errors,
                "output_bytes": int(statistics.median(self.output_bytes))
                if self.output_bytes else None,
                "overhead_p50_ms": round(statistics.median(self.overhead_ms), 1)
                if self.overhead_ms else None, **self.extra}


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def make_images() -> dict[str, bytes]:
    """Real photos (scikit-image's bundled ones) resized to the benchmark sizes, as JPEG."""
    from PIL import Image
    from skimage import data

    sources = {"1024x1024": data.astronaut(), "4000x3000": data.coffee()}
    out = {}
    for name, (w, h) in SIZES.items():
        buf = io.BytesIO()
        Image.fromarray(sources[name]).resize((w, h), Image.Resampling.LANCZOS).save(
            buf, "JPEG", quality=90)
        out[name] = buf.getvalue()
    out["1024x1024 adobe-rgb"] = adobe_rgb_jpeg(data.astronaut())
    return out


def adobe_rgb_jpeg(pixels: object) -> bytes:
    """The 1024x1024 photo converted into an Adobe-RGB-like space, that profile embedded: the
    colour-managed path (profile read, sRGB copy for the model, profile embedded) at work."""
    from PIL import Image, ImageCms

    from tools.icc import adobe_rgb  # a wide-gamut profile written byte by byte (tools/icc.py)

    profile = adobe_rgb()
    photo = Image.fromarray(pixels).resize(SIZES["1024x1024"], Image.Resampling.LANCZOS)
    wide = ImageCms.profileToProfile(photo, ImageCms.createProfile("sRGB"),
                                     ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                     outputMode="RGB")
    buf = io.BytesIO()
    wide.save(buf, "JPEG", quality=90, icc_profile=profile)  # type: ignore[union-attr]
    return buf.getvalue()


def load(call: Callable[[], tuple[bool, dict]], clients: int, seconds: float,
         max_count: int) -> tuple[float, list[tuple[float, bool, dict]]]:
    """Run `call` from `clients` threads until `seconds` pass or max_count calls started."""
    results: list[tuple[float, bool, dict]] = []
    lock = threading.Lock()
    started = [0]
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                if started[0] >= max_count:
                    return
                started[0] += 1
            t0 = time.perf_counter()
            try:
                ok, info = call()
            except Exception as exc:  # a failed call is a data point, not a crash
                ok, info = False, {"exception": type(exc).__name__}
            with lock:
                results.append((info.get("latency", time.perf_counter() - t0), ok, info))

    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    return time.monotonic() - t0, results


def to_run(system: str, size: str, clients: int, elapsed: float,
           results: list[tuple[float, bool, dict]]) -> Run:
    run = Run(system, size, clients, elapsed)
    for latency, ok, info in results:
        if ok:
            run.ok += 1
            run.latencies.append(latency)
            if "bytes" in info:
                run.output_bytes.append(info["bytes"])
            if "worker_s" in info:
                run.overhead_ms.append((latency - info["worker_s"]) * 1000)
        else:
            run.errors += 1
    return run


def machine() -> dict:
    """What the figures were measured on: int8 (and numba's kernels) differ per CPU, so the
    CPU's SIMD flags belong beside them."""
    import onnxruntime

    from worker.cpu import current

    cpu = current()
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {"cores": CORES, "cpu": cpu.model, "cpu_flags": cpu.relevant_flags,
            "int8_dot_product": cpu.has_int8_dot_product, "cpu_line": cpu.describe(),
            "memory_gb": round(int(mem) / 1024 / 1024, 1), "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__, "quick": QUICK}
