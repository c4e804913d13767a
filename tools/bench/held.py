"""Bench row "requests held by one gateway": N requests wait at once on a paused consumer.

`python -m tools.bench.held` (or `make bench-held`; HELD_N, default 1000, up to 5,000): starts
a private stack with ONE gateway process, pauses the worker's consumer (Celery remote control
cancel_consumer), opens N concurrent remove-background requests over raw asyncio sockets,
reports how many reached the queue within HELD_WINDOW seconds, the gateway process's RSS and
its Redis connections at that moment (its RSS again HELD_SETTLE seconds later, default 5),
then resumes the consumer and checks that every request got its answer and that the books
balance. The test suite's reliability test drives the same helpers at a smaller N.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from tools.stack.processes import child_pids, rss_kb


async def post_json(port: int, path: str, body: dict[str, Any], token: str,
                    timeout: float) -> tuple[int | str, dict[str, Any]]:
    """One POST on its own connection; (status, JSON body) or ("error: ...", {})."""
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n").encode()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(head + payload)
                await writer.drain()
                raw = await reader.read()
            finally:
                writer.close()
    except (OSError, TimeoutError) as exc:
        return f"error: {type(exc).__name__}", {}
    header, _, rest = raw.partition(b"\r\n\r\n")
    try:
        status = int(header.split(b" ", 2)[1])
        return status, json.loads(rest or b"{}")
    except (IndexError, ValueError):
        return "error: malformed answer", {}


def raise_fd_limit(wanted: int) -> int:
    """Lift this process's open-files limit toward wanted (each request is a socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def tcp_links(pid: int, port: int) -> int:
    """TCP connections that process pid holds to 127.0.0.1:port (e.g. Redis)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            remote_port = int(cols[2].rsplit(":", 1)[1], 16)
            if remote_port == port and cols[3] == "01" and cols[9] in inodes:  # ESTABLISHED
                count += 1
    return count


def gateway_worker_pid(arbiter_pid: int) -> int:
    """The one gunicorn worker process of a gateway started with GUNICORN_WORKERS=1."""
    children = child_pids(arbiter_pid)
    assert len(children) == 1, children
    return children[0]


def snapshot(arbiter_pid: int, redis_port: int) -> dict[str, int]:
    """The gateway worker's RSS (KiB) and Redis connections now."""
    pid = gateway_worker_pid(arbiter_pid)
    return {"rss_kb": rss_kb(pid), "redis_connections": tcp_links(pid, redis_port)}


def wait_until(check: Any, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


def books_balance(rt: Any, user_id: int, granted: int) -> bool:
    """No job open, one charge per succeeded job, Redis' balance = the ledger's."""
    jobs = rt.db.all("recent_jobs", user_id=user_id, limit=100_000)
    if any(j["status"] in ("queued", "running") for j in jobs):
        return False
    succeeded = sum(j["status"] == "succeeded" for j in jobs)
    return rt.credits.ledger_balance(user_id) == rt.credits.balance(user_id) == granted - succeeded


def low_load_p50(url: str, token: str, image_url: str, count: int) -> float:
    """Median seconds of `count` remove-background requests sent one after another."""
    import statistics

    import requests

    session = requests.Session()
    took = []
    for _ in range(count):
        t0 = time.perf_counter()
        resp = session.post(f"{url}/api/v1/image/remove-background",
                            json={"input_image": image_url},
                            headers={"Authorization": f"Bearer {token}"}, timeout=120)
        took.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.text
    return statistics.median(took)


def compare_worker_classes(stack: Any, rt: Any, image_url: str, rounds: int,
                           count: int) -> dict[str, Any]:
    """Low-load p50 through a gevent gateway and a gthread one, alternating, same stack."""
    import requests

    from gateway.admin import create_user_with_key
    from tools.stack.processes import free_port, start_gateway, wait_http_ok

    classes = {"gevent": {}, "gthread": {"GUNICORN_WORKER_CLASS": "gthread",
                                         "GUNICORN_THREADS": "64"}}
    gateways = {}
    for name, env in classes.items():
        port = free_port()
        managed = start_gateway({**stack.env, "GUNICORN_WORKERS": "1", **env}, port,
                                stack.services.log_dir)
        stack.apps.append(managed)
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/readyz", 60, managed.proc)
        gateways[name] = url
    user = create_user_with_key(rt, f"p50-{time.time_ns()}@example.com", 10 * rounds * count)
    token = requests.post(f"{gateways['gevent']}/api/token", json={"key": user["api_key"]},
                          timeout=10).json()["access_token"]
    for url in gateways.values():
        low_load_p50(url, token, image_url, 3)  # warm both
    p50s: dict[str, list[float]] = {name: [] for name in classes}
    for _ in range(rounds):
        for name, url in gateways.items():
            p50s[name].append(low_load_p50(url, token, image_url, count))
    best = {name: min(values) for name, values in p50s.items()}
    return {"row": "low-load p50, gevent vs gthread (1 client, alternating)",
            "p50_ms": {n: [round(v * 1000, 1) for v in vs] for n, vs in p50s.items()},
            "ratio_gevent_over_gthread": round(best["gevent"] / best["gthread"], 3)}


def main() -> int:
    """The row: N held requests on one gateway process (HELD_N, default 1000)."""
    import io

    import requests
    from PIL import Image

    from gateway.admin import create_user_with_key
    from tools.bench.api import Stack
    from tools.bench.common import say
    from tools.stack.processes import BlobServer, free_port, start_gateway, wait_http_ok

    n = int(os.environ.get("HELD_N", "1000"))
    window = float(os.environ.get("HELD_WINDOW", "20"))
    raise_fd_limit(n * 2 + 256)
    images = BlobServer()
    buf = io.BytesIO()
    Image.new("RGB", (128, 128), (200, 30, 30)).save(buf, "JPEG")
    good = images.add("held.jpg", buf.getvalue())
    stack = Stack()
    try:
        stack.start(images.port)
        # A gateway of its own: ONE process, its admission limit raised above N for the row.
        port = free_port()
        gateway = start_gateway({**stack.env, "GUNICORN_WORKERS": "1",
                                 "GATEWAY_MAX_INFLIGHT": str(n + 10),
                                 "QUEUE_MAX_DEPTH": str(n + 100),
                                 "RATE_LIMIT_PER_MINUTE": "0",
                                 "REQUEST_TIMEOUT_SECONDS": "3600"},
                                port, stack.services.log_dir)
        stack.apps.append(gateway)
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/readyz", 60, gateway.proc)
        from shared.runtime import Runtime

        rt = Runtime(stack.settings)
        if os.environ.get("HELD_COMPARE", "1") != "0":
            row = compare_worker_classes(stack, rt, good, int(os.environ.get("HELD_ROUNDS", "3")),
                                         int(os.environ.get("HELD_P50_COUNT", "20")))
            say(json.dumps(row))
        user = create_user_with_key(rt, f"held-{time.time_ns()}@example.com", n)
        token = requests.post(f"{url}/api/token", json={"key": user["api_key"]},
                              timeout=10).json()["access_token"]
        queue = stack.settings.worker_queue
        control = rt.celery.control
        assert control.cancel_consumer(queue, reply=True, timeout=10)
        before = snapshot(gateway.proc.pid, stack.services.redis_port)

        async def run() -> tuple[list, int, dict, float]:
            t0 = time.monotonic()
            calls = [asyncio.create_task(post_json(port, "/api/v1/image/remove-background",
                                                   {"input_image": good}, token, 3600))
                     for _ in range(n)]
            await asyncio.to_thread(wait_until, lambda: rt.redis.llen(queue) >= n, window)
            reached, took = rt.redis.llen(queue), time.monotonic() - t0
            held = snapshot(gateway.proc.pid, stack.services.redis_port)
            # Again once the burst's transients are gone: what the waiting requests keep.
            await asyncio.sleep(float(os.environ.get("HELD_SETTLE", "5")))
            held["rss_settled_kb"] = snapshot(gateway.proc.pid,
                                              stack.services.redis_port)["rss_kb"]
            assert control.add_consumer(queue, reply=True, timeout=10)
            return await asyncio.gather(*calls), reached, held, took

        answers, reached, held, took = asyncio.run(run())
        statuses: dict[Any, int] = {}
        for status, _ in answers:
            statuses[status] = statuses.get(status, 0) + 1
        balanced = books_balance(rt, user["user_id"], n)
        per_request = (held["rss_kb"] - before["rss_kb"]) * 1024 / max(reached, 1)
        row = {"row": "requests held by one gateway", "n": n, "reached_queue": reached,
               "within_s": round(took, 1), "rss_before_kb": before["rss_kb"],
               "rss_held_kb": held["rss_kb"], "rss_per_request_bytes": round(per_request),
               "rss_settled_kb": held["rss_settled_kb"],
               "rss_settled_per_request_bytes": round(
                   (held["rss_settled_kb"] - before["rss_kb"]) * 1024 / max(reached, 1)),
               "redis_connections": held["redis_connections"], "answers": statuses,
               "books_balance": balanced}
        say(json.dumps(row))
        (Path(".bench") / "held.json").parent.mkdir(exist_ok=True)
        (Path(".bench") / "held.json").write_text(json.dumps(row, indent=2))
        rt.close()
        return 0 if statuses.get(200) == n and reached == n and balanced else 1
    finally:
        images.close()
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
