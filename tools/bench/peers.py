"""What the API is compared with: rembg.remove() in process (the ceiling) and `rembg s`."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from tools.bench.common import BENCH, CORES, MODEL, QUICK, Run, load, say, to_run
from tools.stack.processes import (
    REPO,
    free_port,
    rss_kb,
    wait_for_port,
)


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
