"""Security fixtures: a second, strict worker (no loopback allowed), recorders, input servers.

The stack's worker allows 127.0.0.0/8 so the tests can serve images from 127.0.0.1. Cases
that need loopback refused (127.0.0.1 itself, `localhost`, numeric spellings of 127.0.0.1,
IPv4-mapped 127.0.0.1, redirects to them, our own Redis/PostgreSQL/S3) go to a second real
worker that consumes its own queue and allows only 127.0.0.2/32: the one address a test's
"public" image host listens on, so a redirect from an allowed host to loopback can be tried.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator

import pytest

from gateway.app import create_app
from shared.config import Settings
from shared.models import queue_for
from shared.runtime import Runtime
from shared.tasks import HEARTBEAT_PREFIX
from tests.security.util import ScriptedServer
from tools.stack.processes import Managed, Services, start_worker

STRICT_QUEUE = "segment-strict"
# A loopback address that counts as "public" for the strict worker (Linux routes all 127/8).
STRICT_ALLOWED_HOST = "127.0.0.2"


def _wait_for_queue_worker(rt: Runtime, queue: str, managed: Managed, log_name: str,
                           services: Services, timeout: float = 180) -> None:
    """Block until a worker consuming `queue` has written its heartbeat (its model is loaded)."""
    deadline = time.monotonic() + timeout
    while True:
        for key in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*"):
            raw = rt.redis.get(key)
            if raw and json.loads(raw).get("queue") == queue:
                return
        if managed.proc.poll() is not None or time.monotonic() > deadline:
            log = (services.log_dir / f"{log_name}.log").read_text()[-3000:]
            raise RuntimeError(f"{log_name} did not come up:\n{log}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def strict_worker(stack_env: dict[str, str], services: Services, rt: Runtime,
                  worker: Managed) -> Iterator[Managed]:
    """A second real Celery worker: queue segment-strict, only 127.0.0.2/32 allowed."""
    # Depends on `worker` so that the stack's worker is up first: its fixture waits for any
    # heartbeat and must not mistake this one's for its own.
    env = {**stack_env, "QUEUE_NAME": STRICT_QUEUE,
           "INPUT_ALLOW_NETWORKS": f"{STRICT_ALLOWED_HOST}/32"}
    managed = start_worker(env, services.log_dir, concurrency=1, name="worker-strict")
    try:
        _wait_for_queue_worker(rt, queue_for(STRICT_QUEUE, stack_env["MODEL_NAME"]), managed,
                               "worker-strict", services)
        yield managed
    finally:
        managed.stop(timeout=30)


@pytest.fixture()
def strict_client(settings: Settings, strict_worker: Managed):
    """A Flask test client whose jobs go to the strict worker."""
    app = create_app(dataclasses.replace(settings, queue_name=STRICT_QUEUE))
    app.config.update(TESTING=True)
    yield app.test_client()
    app.extensions["bgr"].close()


@pytest.fixture()
def server() -> Iterator[Callable[..., ScriptedServer]]:
    """Factory of scripted HTTP input servers (127.0.0.1 by default), closed after the test."""
    made: list[ScriptedServer] = []

    def make(host: str = "127.0.0.1") -> ScriptedServer:
        made.append(ScriptedServer(host))
        return made[-1]

    yield make
    for srv in made:
        srv.close()
