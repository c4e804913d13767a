"""`make bench`: the API, against rembg.remove() in-process (the ceiling) and `rembg s` (the peer).

Everything runs on this machine in one go, so the ratios compare like with like. Every load
loop is bounded by time and by count. Results: a table on stdout, .bench/results.json, and
.bench/chart.png.
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from deploy import bench_segment
from deploy.localstack import (
    REPO,
    BlobServer,
    S3Ports,
    Services,
    child_pids,
    free_port,
    rss_kb,
    start_gateway,
    start_worker,
    wait_for_port,
    wait_http_ok,
)

BENCH = REPO / ".bench"
QUICK = os.environ.get("QUICK", "") not in ("", "0")
SIZES = {"1024x1024": (1024, 1024), "4000x3000": (4000, 3000)}
CORES = os.cpu_count() or 1
# Model under test (u2netp, u2net): the API, rembg.remove() and rembg s all run it.
MODEL = os.environ.get("BENCH_MODEL", "u2netp")
# The API once per precision (a fresh worker each): "api" is fp32, "api int8" the int8 file.
PRECISIONS = [p for p in os.environ.get("BENCH_PRECISIONS", "fp32,int8").split(",") if p]


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
    return out


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


# -- (a) the API ------------------------------------------------------------------------------
class Stack:
    """A private local stack for the benchmark: free ports, data under a temp dir."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bgr-bench-"))
        os.chmod(self.root, 0o755)  # noqa: S103 - PostgreSQL (as `postgres`) must get in
        self.services = Services(self.root, free_port(), free_port(), free_port(S3Ports.SPAN))
        self.apps: list = []

    def start(self, image_server_port: int) -> None:
        from shared.config import Settings
        from shared.db import migrate
        from shared.storage import Storage

        self.services.start()
        self.env = {
            "APP_ENV": "development", **self.services.env(), "S3_BUCKET": "bench",
            "U2NET_HOME": os.environ.get("U2NET_HOME", str(REPO / ".models")),
            "INPUT_ALLOW_NETWORKS": "127.0.0.1/32", "REQUEST_TIMEOUT_SECONDS": "120",
            "ORT_INTRA_OP_THREADS": os.environ.get("BENCH_ORT_THREADS", "1"),
            # e.g. OpenVINOExecutionProvider,CPUExecutionProvider (run from a venv with the
            # openvino extra): the API's worker on that provider.
            "ORT_PROVIDERS": os.environ.get("BENCH_ORT_PROVIDERS", "CPUExecutionProvider"),
            "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "32",
            "QUEUE_MAX_DEPTH": "100000", "WORKER_METRICS_PORT": "0",
            # The same model for the API, the ceiling and the peer; our default refinement.
            "MODEL_NAME": MODEL, "REFINE": os.environ.get("BENCH_REFINE", "guided"),
        }
        for name in ("PNG_COMPRESS_LEVEL",):
            if name in os.environ:
                self.env[name] = os.environ[name]
        self.settings = Settings.from_env(self.env)
        migrate(self.settings.database_url)
        Storage(self.settings).ensure_bucket()
        concurrency = int(os.environ.get("BENCH_WORKER_CONCURRENCY", str(CORES)))
        self.worker = start_worker(self.env, self.services.log_dir, concurrency=concurrency)
        self.apps.append(self.worker)
        port = free_port()
        self.apps.append(start_gateway(self.env, port, self.services.log_dir))
        self.url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{self.url}/readyz", 180, self.worker.proc)
        # Every child must have loaded its model before we measure.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            body = requests.get(f"{self.url}/readyz", timeout=5).json()
            if body["components"]["workers"]["count"] >= concurrency:
                break
            time.sleep(0.5)

    def restart_worker(self, **env: str) -> None:
        """A fresh worker node with env changed (the gateway and the data stay)."""
        self.worker.stop()
        self.apps.remove(self.worker)
        self.env.update(env)
        concurrency = int(os.environ.get("BENCH_WORKER_CONCURRENCY", str(CORES)))
        self.worker = start_worker(self.env, self.services.log_dir, concurrency=concurrency)
        self.apps.append(self.worker)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            body = requests.get(f"{self.url}/readyz", timeout=5).json()
            workers = body["components"]["workers"]
            if workers["count"] >= concurrency and body.get("status") == "ok":
                break
            time.sleep(0.5)
        time.sleep(6)  # heartbeats of the stopped node expire (TTL) before we count anew

    def worker_rss_mb(self) -> float:
        """RSS of the worker's child processes (where the model lives), summed."""
        total = 0
        for pid in child_pids(self.worker.proc.pid):
            total += rss_kb(pid)
        return round(total / 1024, 1)

    def stop(self) -> None:
        for app in reversed(self.apps):
            app.stop()
        self.services.stop(throwaway=True)
        shutil.rmtree(self.root, ignore_errors=True)


def api_caller(stack: Stack, token: str, image_url: str) -> Callable[[], tuple[bool, dict]]:
    from shared.db import Database

    db = Database(stack.settings)
    local = threading.local()

    def call() -> tuple[bool, dict]:
        session = getattr(local, "s", None) or requests.Session()
        local.s = session
        t0 = time.perf_counter()
        resp = session.post(f"{stack.url}/api/v1/image/remove-background",
                            json={"input_image": image_url},
                            headers={"Authorization": f"Bearer {token}"}, timeout=300)
        latency = time.perf_counter() - t0  # the request alone, not the bookkeeping below
        if resp.status_code != 200:
            return False, {"status": resp.status_code}
        key = resp.json()["data"]["output_image"].split("?")[0].split("/outputs/")[1]
        job = db.one("get_job", job_id=key.split(".")[0])
        info = {"bytes": 0, "job_id": key.split(".")[0], "latency": latency}
        if job and job["timings"]:
            info["worker_s"] = (job["finished_at"] - job["started_at"]).total_seconds()
        return True, info

    return call


def upload_caller(stack: Stack, api_key: str, image: bytes) -> Callable[[], tuple[bool, dict]]:
    """The remove.bg-compatible endpoint: the image uploaded, the PNG in the answer (as rembg s)."""
    local = threading.local()

    def call() -> tuple[bool, dict]:
        session = getattr(local, "s", None) or requests.Session()
        local.s = session
        resp = session.post(f"{stack.url}/v1.0/removebg", headers={"X-Api-Key": api_key},
                            files={"image_file": ("x.jpg", image, "image/jpeg")},
                            data={"size": "full", "format": "png"}, timeout=300)
        return resp.status_code == 200, {"bytes": len(resp.content)}

    return call


def add_output_sizes(stack: Stack, run: Run, results: list, limit: int = 10) -> None:
    from shared.storage import Storage, output_key

    storage = Storage(stack.settings)
    run.output_bytes = [storage.client.stat_object(storage.bucket, output_key(
        info["job_id"], "png")).size for _, ok, info in results[:limit] if ok]


# -- (b) the ceiling: rembg.remove() in this machine's best process/thread arrangement ---------
def _ceiling_proc(image: bytes, threads: int, start: mp.Event, seconds: float,
                  out: mp.Queue) -> None:
    import onnxruntime as ort
    import rembg

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = rembg.new_session(MODEL, providers=["CPUExecutionProvider"], sess_opts=opts)
    rembg.remove(image, session=session)  # warm
    out.put(("ready", 0, 0))
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        png = rembg.remove(image, session=session)
        out.put(("done", time.perf_counter() - t0, len(png)))
    out.put(("end", 0, 0))


def ceiling(size: str, image: bytes, procs: int, threads: int, seconds: float) -> Run:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_ceiling_proc, args=(image, threads, start, seconds, out))
               for _ in range(procs)]
    for w in workers:
        w.start()
    for _ in workers:
        while True:
            try:
                assert out.get(timeout=5)[0] == "ready"
                break
            except Exception:  # queue.Empty: fine while every process is still loading
                if not all(w.is_alive() for w in workers):
                    raise RuntimeError("a rembg.remove() process died while loading") from None
    t0 = time.monotonic()
    start.set()
    run = Run(f"rembg.remove() {procs}p x {threads}t", size, procs, 0.0)
    ended = 0
    while ended < procs:
        kind, latency, nbytes = out.get(timeout=300)
        if kind == "done":
            run.ok += 1
            run.latencies.append(latency)
            run.output_bytes.append(nbytes)
        elif kind == "end":
            ended += 1
    run.seconds = time.monotonic() - t0
    for w in workers:
        w.join(30)
    return run


# -- (c) the peer: rembg's own HTTP server, in its own venv -----------------------------------
def peer_venv() -> Path:
    venv = BENCH / "rembg-venv"
    stamp = venv / ".installed-2.0.86"
    if not stamp.exists():
        say("installing rembg[cpu,cli]==2.0.86 into .bench/rembg-venv (first time, a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check",
                        "rembg[cpu,cli]==2.0.86"], check=True)
        stamp.touch()
    return venv


def start_peer(venv: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "U2NET_HOME": os.environ.get("U2NET_HOME", str(REPO / ".models")),
           "OMP_NUM_THREADS": str(CORES)}
    log = open(BENCH / "rembg-server.log", "ab")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen([str(venv / "bin/rembg"), "s", "--no-ui", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    wait_for_port(port, proc, "rembg s", timeout=300)
    return proc, f"http://127.0.0.1:{port}"


def peer_caller(url: str, image: bytes) -> Callable[[], tuple[bool, dict]]:
    local = threading.local()

    def call() -> tuple[bool, dict]:
        session = getattr(local, "s", None) or requests.Session()
        local.s = session
        resp = session.post(f"{url}/api/remove", files={"file": ("x.jpg", image, "image/jpeg")},
                            data={"model": MODEL}, timeout=300)
        return resp.status_code == 200, {"bytes": len(resp.content)}

    return call


# -- orchestration ----------------------------------------------------------------------------
def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {"cores": CORES, "cpu": model, "memory_gb": round(int(mem) / 1024 / 1024, 1),
            "python": platform.python_version(), "quick": QUICK}


def bench_api(images: dict[str, bytes], sizes: list[str], levels: list[int],
              seconds: dict[str, float]) -> list[Run]:
    from gateway.admin import create_user_with_key
    from shared.runtime import Runtime

    host = BlobServer()
    urls = {size: host.add(f"{size}.jpg", body) for size, body in images.items()}
    stack = Stack()
    runs: list[Run] = []
    try:
        say("starting a private stack (Redis, PostgreSQL, S3, gateway, worker)")
        stack.start(0)
        rt = Runtime(stack.settings)
        key = create_user_with_key(rt, "bench@example.com", 1_000_000)["api_key"]
        rt.close()
        token = requests.post(f"{stack.url}/api/token", json={"key": key},
                              timeout=10).json()["access_token"]
        for precision in PRECISIONS:
            if precision != stack.env.get("MODEL_PRECISION", "fp32"):
                say(f"restarting the worker with MODEL_PRECISION={precision}")
                stack.restart_worker(MODEL_PRECISION=precision)
            system = "api" if precision == "fp32" else f"api {precision}"
            for size in sizes:
                call = api_caller(stack, token, urls[size])
                load(call, 2, 60, 4)  # warm every worker child on this size
                for clients in levels:
                    say(f"{system} {size}, {clients} client(s), {seconds[size]:.0f} s")
                    elapsed, results = load(call, clients, seconds[size], 2000)
                    run = to_run(system, size, clients, elapsed, results)
                    add_output_sizes(stack, run, results)
                    run.extra["worker_rss_mb"] = stack.worker_rss_mb()
                    runs.append(run)
        if "1024x1024" in sizes and os.environ.get("BENCH_UPLOAD", "1") != "0":
            call = upload_caller(stack, key, images["1024x1024"])
            for clients in levels:
                say(f"API upload (/v1.0/removebg, binary answer) 1024x1024, {clients} "
                    f"client(s), {seconds['1024x1024']:.0f} s")
                elapsed, results = load(call, clients, seconds["1024x1024"], 2000)
                run = to_run("api upload", "1024x1024", clients, elapsed, results)
                run.extra["worker_rss_mb"] = stack.worker_rss_mb()
                runs.append(run)
        if not QUICK and os.environ.get("BENCH_MEMORY", "1") != "0":
            say("API memory: 500 images of 1024x1024 at 4 clients, RSS after 50 and after 500")
            call = api_caller(stack, token, urls["1024x1024"])
            # Fresh worker children: restart is not needed; measure growth from here.
            load(call, 4, 600, 50)
            after_50 = stack.worker_rss_mb()
            load(call, 4, 900, 450)
            after_500 = stack.worker_rss_mb()
            runs.append(Run("api-memory", "1024x1024", 4, 0.0, extra={
                "rss_after_50_mb": after_50, "rss_after_500_mb": after_500,
                "growth": round(after_500 / after_50 - 1, 3)}))
    finally:
        stack.stop()
        host.close()
    return runs


def bench_ceiling(images: dict[str, bytes], sizes: list[str],
                  seconds: dict[str, float]) -> list[Run]:
    arrangements = [(CORES, 1)] if QUICK else [(1, CORES), (CORES, 1)]
    runs = []
    for size in sizes:
        for procs, threads in arrangements:
            say(f"ceiling: rembg.remove() {size}, {procs} process(es) x {threads} thread(s)")
            runs.append(ceiling(size, images[size], procs, threads, seconds[size]))
    return runs


def bench_peer(images: dict[str, bytes], sizes: list[str], levels: list[int],
               seconds: dict[str, float]) -> list[Run]:
    venv = peer_venv()
    say("starting rembg's own server (`rembg s --no-ui`)")
    proc, url = start_peer(venv)
    runs = []
    try:
        for size in sizes:
            call = peer_caller(url, images[size])
            load(call, 1, 300, 2)  # first request loads the model
            for clients in levels:
                say(f"peer {size}, {clients} client(s), {seconds[size]:.0f} s")
                elapsed, results = load(call, clients, seconds[size], 2000)
                run = to_run("rembg s", size, clients, elapsed, results)
                run.extra["server_rss_mb"] = round(rss_kb(proc.pid) / 1024, 1)
                runs.append(run)
    finally:
        proc.terminate()
        proc.wait(30)
    return runs


def report(runs: list[Run], info: dict) -> dict:
    """Print the table and the target ratios; return everything for results.json."""
    def find(system: str, size: str, clients: int) -> Run | None:
        return next((r for r in runs if r.system == system and r.size == size
                     and r.clients == clients), None)

    print(f"\nmachine: {info['cores']} cores, {info['cpu']}, {info['memory_gb']} GB\n")
    head = (f"{'system':<26}{'size':<11}{'clients':>7}{'img/s':>8}{'p50 s':>8}{'p95 s':>8}"
            f"{'errors':>7}{'out KB':>8}{'ovh ms':>8}{'RSS MB':>8}")
    print(head)
    print("-" * len(head))
    for r in runs:
        if r.system == "api-memory":
            continue
        s = r.summary()
        rss = s.get("worker_rss_mb") or s.get("server_rss_mb") or ""
        out_kb = f"{s['output_bytes'] / 1024:.0f}" if s["output_bytes"] else ""
        ovh = s["overhead_p50_ms"] if s["overhead_p50_ms"] is not None else ""
        print(f"{r.system:<26}{r.size:<11}{r.clients:>7}{s['images_per_s']:>8.2f}"
              f"{s['p50_s']:>8.2f}{s['p95_s']:>8.2f}{r.errors:>7}{out_kb:>8}{ovh!s:>8}{rss!s:>8}")
    ratios = {}
    for system in sorted({r.system for r in runs if r.system.startswith("api ")
                          and r.system != "api upload"}):
        for size in SIZES:
            for clients in (4, 1):
                ours, peer = find(system, size, clients), find("rembg s", size, clients)
                if ours and peer:
                    ratios[f"{size} {clients} client(s): {system}/peer img/s"] = round(
                        ours.rate / peer.rate, 2)
                    ratios[f"{size} {clients} client(s): {system}/peer p50"] = round(
                        ours.pct(50) / peer.pct(50), 2)
    for size in SIZES:
        api4, peer4 = find("api", size, 4), find("rembg s", size, 4)
        api1, peer1 = find("api", size, 1), find("rembg s", size, 1)
        ceil = max((r for r in runs if r.system.startswith("rembg.remove") and r.size == size),
                   key=lambda r: r.rate, default=None)
        if api4 and peer4:
            ratios[f"{size} 4 clients: api/peer"] = round(api4.rate / peer4.rate, 2)
        upload4 = find("api upload", size, 4)
        if upload4 and peer4:
            ratios[f"{size} 4 clients: api upload/peer (both uploads)"] = round(
                upload4.rate / peer4.rate, 2)
        upload1 = find("api upload", size, 1)
        if upload1 and peer1:
            ratios[f"{size} 1 client: p50 api upload/peer"] = round(
                upload1.pct(50) / peer1.pct(50), 2)
        if api4 and ceil:
            ratios[f"{size} 4 clients: api/ceiling ({ceil.system})"] = round(
                api4.rate / ceil.rate, 2)
        if api1 and peer1:
            ratios[f"{size} 1 client: p50 api/peer"] = round(api1.pct(50) / peer1.pct(50), 2)
        if api1 and api1.overhead_ms:
            ratios[f"{size} 1 client: gateway+queue overhead p50 ms"] = round(
                statistics.median(api1.overhead_ms), 1)
        if api4 and ceil and api4.output_bytes and ceil.output_bytes:
            ratios[f"{size}: output bytes api/rembg"] = round(
                statistics.median(api4.output_bytes) / statistics.median(ceil.output_bytes), 3)
    ratios.update(bench_segment.ratios(runs))
    mem = next((r for r in runs if r.system == "api-memory"), None)
    if mem:
        ratios["worker RSS after 500 / after 50"] = round(
            mem.extra["rss_after_500_mb"] / mem.extra["rss_after_50_mb"], 3)
    print("\nratios (same run):")
    for name, value in ratios.items():
        print(f"  {name:<58} {value}")
    return {"machine": info, "runs": [r.summary() for r in runs], "ratios": ratios,
            "raw": [asdict(r) for r in runs]}


def chart(runs: list[Run], path: Path) -> None:
    """Images/s by clients for the API and the peer, the ceiling as a line; one panel a size."""
    from PIL import Image, ImageDraw

    sizes = sorted({r.size for r in runs if r.system != "api-memory"})
    width, panel = 900, 320
    img = Image.new("RGB", (width, panel * len(sizes)), "white")
    draw = ImageDraw.Draw(img)
    colours = {"api": (46, 194, 126), "api int8": (20, 120, 60), "api upload": (30, 120, 200),
               "rembg s": (168, 85, 247)}
    for i, size in enumerate(sizes):
        top = i * panel
        data = [r for r in runs if r.size == size and r.system in colours]
        ceil = max((r.rate for r in runs if r.size == size
                    and r.system.startswith("rembg.remove")), default=0)
        top_rate = max([r.rate for r in data] + [ceil, 0.1]) * 1.15
        draw.text((10, top + 8), f"{size}: images/s by concurrent clients "
                  "(green: this API, purple: rembg s, line: rembg.remove() ceiling)", fill="black")
        levels = sorted({r.clients for r in data})
        base_y, scale = top + panel - 30, (panel - 70) / top_rate
        for j, clients in enumerate(levels):
            x0 = 60 + j * (width - 80) // max(len(levels), 1)
            for k, system in enumerate(colours):
                run = next((r for r in data if r.system == system and r.clients == clients), None)
                if run is None:
                    continue
                x = x0 + k * 60
                draw.rectangle([x, base_y - run.rate * scale, x + 50, base_y],
                               fill=colours[system])
                draw.text((x + 2, base_y - run.rate * scale - 14), f"{run.rate:.2f}",
                          fill="black")
            draw.text((x0 + 40, base_y + 6), f"{clients} client(s)", fill="black")
        if ceil:
            y = base_y - ceil * scale
            draw.line([40, y, width - 10, y], fill=(200, 0, 0), width=2)
            draw.text((width - 120, y - 14), f"ceiling {ceil:.2f}", fill=(200, 0, 0))
    img.save(path)


def main() -> int:
    BENCH.mkdir(exist_ok=True)
    os.environ.setdefault("U2NET_HOME", str(REPO / ".models"))  # also for spawned processes
    sizes = ["1024x1024"] if QUICK else list(SIZES)
    levels = [4] if QUICK else [1, 2, 4, 8]
    # e.g. BENCH_SIZES=1024x1024,4000x3000 BENCH_LEVELS=1,4: only the rows the targets use.
    sizes = [x for x in os.environ.get("BENCH_SIZES", ",".join(sizes)).split(",") if x]
    levels = [int(x) for x in os.environ.get("BENCH_LEVELS", ",".join(map(str, levels))
                                             ).split(",") if x]
    seconds = {"1024x1024": 20.0, "4000x3000": 30.0}
    info = machine()
    say(f"{'quick' if QUICK else 'full'} run on {info['cores']} cores ({info['cpu']})")
    images = make_images()
    # BENCH_ONLY=segment: the segment-stage rows alone (a minute or two per model).
    only = os.environ.get("BENCH_ONLY", "")
    runs = (bench_segment.run(MODEL, images, sizes)
            if os.environ.get("BENCH_SEGMENT", "1") != "0" else [])
    if only != "segment":
        runs += bench_api(images, sizes, levels, seconds)
        runs += bench_ceiling(images, sizes, seconds)
        runs += bench_peer(images, sizes, levels, seconds)
    result = report(runs, info)
    (BENCH / "results.json").write_text(json.dumps(result, indent=2, default=str))
    chart(runs, BENCH / "chart.png")
    say(f"wrote {BENCH / 'results.json'} and {BENCH / 'chart.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
