"""Where a held request's memory goes: `python -m tools.bench.held_mem` (measurement only).

Like tools/bench/held.py, but the gateway runs tools/bench/memtrace_conf.py, and the probe is
read at idle, right when the last of each burst reached the queue (peak: the allocator's
high-water) and a few seconds later after gc.collect() + malloc_trim(0) (settled: what the
waiting requests keep). MEM_STEPS (default "500,500": two bursts, 500 then 1000 held),
MEMTRACE_FRAMES (default 0: RSS only, tracemalloc off; e.g. 12 for the allocation tracebacks,
which cost memory of their own and slow the gateway: on a 2-core machine 300 requests did not
reach the queue within the 120 s allowed), MEM_UPLOAD_KB (default 0: the image by URL;
else a noise PNG of about that size sent as input_image_base64), MEMTRACE_KEEP_BODY=1
(skip release_body, as before it existed). Reports land in .bench/mem/.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import time
from pathlib import Path
from typing import Any

from tools.bench.held import post_json, raise_fd_limit, wait_until


def probe(folder: Path, name: str, settle: bool) -> dict[str, Any]:
    (folder / f"{name}.req").write_text("settle" if settle else "")
    out = folder / f"{name}.json"
    assert wait_until(lambda: out.exists() and out.stat().st_size > 0, 120), name
    time.sleep(0.5)
    return json.loads(out.read_text())


def main() -> int:
    import requests
    from PIL import Image

    from gateway.admin import create_user_with_key
    from shared.runtime import Runtime
    from tools.bench.api import Stack
    from tools.bench.common import say
    from tools.stack.processes import (
        REPO,
        VENV_BIN,
        BlobServer,
        Managed,
        _spawn,
        free_port,
        wait_for_port,
        wait_http_ok,
    )

    steps = [int(s) for s in os.environ.get("MEM_STEPS", "500,500").split(",")]
    total = sum(steps)
    folder = (Path(".bench") / "mem").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        old.unlink()
    raise_fd_limit(total * 2 + 256)
    images = BlobServer()
    buf = io.BytesIO()
    Image.new("RGB", (128, 128), (200, 30, 30)).save(buf, "JPEG")
    good = images.add("held.jpg", buf.getvalue())
    body: dict[str, Any] = {"input_image": good}
    upload_kb = int(os.environ.get("MEM_UPLOAD_KB", "0"))
    if upload_kb:
        side = int((upload_kb * 1024 / 3) ** 0.5)
        png = io.BytesIO()
        Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(png, "PNG")
        body = {"input_image_base64": base64.b64encode(png.getvalue()).decode()}
    stack = Stack()
    try:
        stack.start(images.port)
        port = free_port()
        env = {**os.environ, **stack.env, "GUNICORN_WORKERS": "1",
               "GATEWAY_MAX_INFLIGHT": str(total + 10), "QUEUE_MAX_DEPTH": str(total + 100),
               "RATE_LIMIT_PER_MINUTE": "0", "REQUEST_TIMEOUT_SECONDS": "3600",
               "MEMTRACE_DIR": str(folder),
               "MEMTRACE_FRAMES": os.environ.get("MEMTRACE_FRAMES", "0"),
               "MEMTRACE_KEEP_BODY": os.environ.get("MEMTRACE_KEEP_BODY", "0")}
        argv = [str(VENV_BIN / "gunicorn"), "-c", str(REPO / "tools/bench/memtrace_conf.py"),
                "--bind", f"127.0.0.1:{port}", "gateway.wsgi:app"]
        proc = _spawn("gateway-mem", argv, stack.services.log_dir, env=env, cwd=str(REPO))
        wait_for_port(port, proc, "gateway-mem", timeout=60)
        stack.apps.append(Managed("gateway-mem", proc))
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/readyz", 60, proc)
        rt = Runtime(stack.settings)
        user = create_user_with_key(rt, f"mem-{time.time_ns()}@example.com", total + 50)
        token = requests.post(f"{url}/api/token", json={"key": user["api_key"]},
                              timeout=10).json()["access_token"]
        session = requests.Session()
        for _ in range(20):  # warm: lazy imports, pools, caches
            resp = session.post(f"{url}/api/v1/image/remove-background",
                                json={"input_image": good},
                                headers={"Authorization": f"Bearer {token}"}, timeout=120)
            assert resp.status_code == 200, resp.text
        queue = stack.settings.worker_queue
        control = rt.celery.control
        assert control.cancel_consumer(queue, reply=True, timeout=10)
        time.sleep(2)
        reports = {"idle": probe(folder, "idle", settle=True)}

        async def run() -> list:
            calls: list = []
            held = 0
            for i, step in enumerate(steps):
                calls += [asyncio.create_task(post_json(
                    port, "/api/v1/image/remove-background", body, token,
                    3600)) for _ in range(step)]
                held += step
                assert await asyncio.to_thread(
                    wait_until, lambda h=held: rt.redis.llen(queue) >= h, 120), held
                reports[f"peak{i}"] = await asyncio.to_thread(probe, folder, f"peak{i}", False)
                await asyncio.sleep(5)
                reports[f"settled{i}"] = await asyncio.to_thread(
                    probe, folder, f"settled{i}", True)
            assert control.add_consumer(queue, reply=True, timeout=10)
            return await asyncio.gather(*calls)

        answers = asyncio.run(run())
        statuses: dict[Any, int] = {}
        for status, _ in answers:
            statuses[status] = statuses.get(status, 0) + 1
        idle = reports["idle"]["status"]["VmRSS"]
        held = 0
        rows = []
        for i, step in enumerate(steps):
            held += step
            row = {"held": held}
            for phase in ("peak", "settled"):
                rep = reports[f"{phase}{i}"]
                row[f"{phase}_rss_kb"] = rep["status"]["VmRSS"]
                row[f"{phase}_per_request_bytes"] = round(
                    (rep["status"]["VmRSS"] - idle) * 1024 / held)
                row[f"{phase}_heap_in_use_per_request"] = round(
                    (rep["heap"]["in_use"] - reports["idle"]["heap"]["in_use"]) / held)
            rows.append(row)
        say(json.dumps({"row": "memory per held request", "idle_rss_kb": idle, "steps": rows,
                        "answers": statuses}))
        rt.close()
        return 0 if statuses.get(200) == total else 1
    finally:
        images.close()
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
