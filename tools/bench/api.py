"""This API end to end on a private local stack: URL in, URL out, and uploads."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from tools.bench import colour
from tools.bench.common import CORES, MODEL, PRECISIONS, QUICK, Run, load, say, to_run
from tools.stack.processes import (
    REPO,
    BlobServer,
    S3Ports,
    Services,
    child_pids,
    free_port,
    rss_kb,
    start_gateway,
    start_worker,
    wait_http_ok,
)


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
            "GUNICORN_WORKERS": "2",
            "QUEUE_MAX_DEPTH": "100000", "WORKER_METRICS_PORT": "0",
            # The same model for the API, the ceiling and the peer; our default refinement.
            "MODEL_NAME": MODEL, "REFINE": os.environ.get("BENCH_REFINE", "guided"),
            "MODEL_PRECISION": PRECISIONS[0] if PRECISIONS else "auto",
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
            if self.worker.proc.poll() is not None:  # e.g. MODEL_PRECISION=int8 refused here
                log = (self.services.log_dir / "worker.log").read_text(errors="replace")
                reason = next((line for line in reversed(log.splitlines())
                               if "refuses to start" in line), "see worker.log")
                raise RuntimeError(f"the worker did not start: {reason}")
            if len(self._own_beats()) >= concurrency:  # every new pool process has loaded
                break
            time.sleep(0.5)

    def _own_beats(self) -> list[dict]:
        """The live heartbeats of this worker node's pool processes (a stopped node's beats
        linger in /readyz until their TTL expires)."""
        # Prefork: the pool children beat; a threads pool: the node's own process.
        pids = {self.worker.proc.pid, *child_pids(self.worker.proc.pid)}
        body = requests.get(f"{self.url}/readyz", timeout=5).json()
        return [w for w in body["workers"] if w.get("pid") in pids]

    def worker_precision(self) -> tuple[str, str]:
        """(precision, reason) the live worker reports: what MODEL_PRECISION=auto chose."""
        beat = next(iter(self._own_beats()), {})
        return beat.get("precision", "?"), beat.get("precision_reason", "")

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
            info["decode_s"] = job["timings"].get("decode")  # the colour conversion's stage
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


def bench_api(images: dict[str, bytes], sizes: list[str], levels: list[int],
              seconds: dict[str, float], colour_only: bool = False) -> list[Run]:
    """The API's rows (per precision, size and level; uploads; colour; memory), or with
    colour_only the colour rows alone (BENCH_ONLY=colour)."""
    from gateway.admin import create_user_with_key
    from shared.runtime import Runtime

    host = BlobServer()
    urls = {size: host.add(f"{size.replace(' ', '-')}.jpg", body)
            for size, body in images.items()}
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
        for precision in [] if colour_only else PRECISIONS:
            if precision != stack.env["MODEL_PRECISION"]:
                say(f"restarting the worker with MODEL_PRECISION={precision}")
                try:
                    stack.restart_worker(MODEL_PRECISION=precision)
                except RuntimeError as exc:  # int8 refused on this CPU: say so, go on
                    say(f"no rows for MODEL_PRECISION={precision}: {exc}")
                    stack.restart_worker(MODEL_PRECISION="fp32")
                    continue
            served, why = stack.worker_precision()
            if precision == "auto":
                say(f"MODEL_PRECISION=auto chose {served} ({why})")
            system = ("api" if precision == "fp32" else
                      f"api auto:{served}" if precision == "auto" else f"api {precision}")
            for size in sizes:
                call = api_caller(stack, token, urls[size])
                load(call, 2, 60, 4)  # warm every worker child on this size
                for clients in levels:
                    say(f"{system} {size}, {clients} client(s), {seconds[size]:.0f} s")
                    elapsed, results = load(call, clients, seconds[size], 2000)
                    run = to_run(system, size, clients, elapsed, results)
                    add_output_sizes(stack, run, results)
                    run.extra["worker_rss_mb"] = stack.worker_rss_mb()
                    run.extra.update(precision=served, precision_reason=why)
                    runs.append(run)
        if "1024x1024" in sizes and os.environ.get("BENCH_UPLOAD", "1") != "0" and not colour_only:
            call = upload_caller(stack, key, images["1024x1024"])
            for clients in levels:
                say(f"API upload (/v1.0/removebg, binary answer) 1024x1024, {clients} "
                    f"client(s), {seconds['1024x1024']:.0f} s")
                elapsed, results = load(call, clients, seconds["1024x1024"], 2000)
                run = to_run("api upload", "1024x1024", clients, elapsed, results)
                run.extra["worker_rss_mb"] = stack.worker_rss_mb()
                runs.append(run)
        if "1024x1024" in sizes and os.environ.get("BENCH_COLOUR", "1") != "0":
            # The same photo in sRGB and in Adobe RGB, alternating rounds on one worker.
            runs += colour.alternate(lambda name: api_caller(stack, token, urls[name]),
                                     max(levels))
        if not QUICK and os.environ.get("BENCH_MEMORY", "1") != "0" and not colour_only:
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
