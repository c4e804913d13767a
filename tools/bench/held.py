"""Bench row "requests held by one gateway": N requests wait at once on a paused consumer.

`python -m tools.bench.held` (or `make bench-held`; HELD_N, default 1000, up to 5,000): starts
a private stack with ONE gateway process, pauses the worker's consumer (Celery remote control
cancel_consumer), opens N concurrent remove-background requests over raw asyncio sockets,
reports how many reached the queue within HELD_WINDOW seconds, the gateway process's RSS and
its Redis connections at that moment, then resumes the consumer and checks that every request
got its answer and that the books balance. The test suite's reliability test drives the same
helpers at a smaller N.
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
