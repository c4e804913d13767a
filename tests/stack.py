"""Fixtures: real, throwaway Redis, PostgreSQL, S3, Celery worker and gunicorn gateway."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from gateway.admin import create_user_with_key
from gateway.app import create_app
from gateway.services.admin_tokens import AdminTokens
from gateway.services.audit import Actor
from shared.config import Settings
from shared.db import migrate
from shared.runtime import Runtime
from shared.storage import Storage
from shared.tasks import HEARTBEAT_PREFIX
from tools.stack.processes import (
    REPO,
    BlobServer,
    Managed,
    S3Ports,
    Services,
    free_port,
    start_gateway,
    start_worker,
    wait_http_ok,
)


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    root = Path(tempfile.mkdtemp(prefix="bgr-test-"))
    os.chmod(root, 0o755)  # noqa: S103 - PostgreSQL runs as `postgres` when we are root: it must get in
    svc = Services(root, free_port(), free_port(), free_port(S3Ports.SPAN)).start()
    try:
        yield svc
    finally:
        svc.stop(throwaway=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_env(services: Services) -> dict[str, str]:
    """The environment the gateway and worker processes of the tests run with."""
    return {
        "APP_ENV": "development",
        **services.env(),
        "S3_BUCKET": "test-outputs",
        "U2NET_HOME": os.environ.get("U2NET_HOME", str(REPO / ".models")),
        # The smallest model keeps the suite fast; u2net (the default) has its own tests.
        "MODEL_NAME": "u2netp",
        "MODELS": "u2netp,u2net",
        "INPUT_ALLOW_NETWORKS": "127.0.0.0/8",
        "INPUT_CONNECT_TIMEOUT": "2",
        "INPUT_READ_TIMEOUT": "5",
        "REQUEST_TIMEOUT_SECONDS": "60",
        "GUNICORN_WORKERS": "1",
        "WORKER_METRICS_PORT": "0",  # no fixed port: tests may run beside anything
    }


@pytest.fixture(scope="session")
def settings(stack_env: dict[str, str]) -> Settings:
    s = Settings.from_env(stack_env)
    migrate(s.database_url)
    Storage(s).ensure_bucket()
    return s


@pytest.fixture(scope="session")
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture()
def app(settings: Settings):
    app = create_app(settings)
    app.config.update(TESTING=True)
    yield app
    app.extensions["bgr"].close()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def worker_metrics_port() -> int:
    """Where the session's worker serves its Prometheus metrics (a free port)."""
    return free_port()


@pytest.fixture(scope="session")
def worker(stack_env: dict[str, str], services: Services, rt: Runtime,
           worker_metrics_port: int) -> Iterator[Managed]:
    """One real Celery worker process running the real model."""
    # Wait for a heartbeat of this worker: one a stopped worker of an earlier test left
    # (it lives on for its TTL) would let the tests start before this one can take jobs.
    earlier = set(rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*"))
    managed = start_worker({**stack_env, "WORKER_METRICS_PORT": str(worker_metrics_port)},
                           services.log_dir, concurrency=1)
    deadline = time.monotonic() + 180
    try:
        while not set(rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*")) - earlier:
            if managed.proc.poll() is not None or time.monotonic() > deadline:
                log = (services.log_dir / "worker.log").read_text()[-3000:]
                raise RuntimeError(f"worker did not come up:\n{log}")
            time.sleep(0.2)
        yield managed
    finally:
        managed.stop(timeout=30)


@pytest.fixture(scope="session")
def gateway_url(stack_env: dict[str, str], services: Services, settings: Settings,
                worker: Managed) -> Iterator[str]:
    """A real gunicorn gateway on a free port (ready: every component answers)."""
    port = free_port()
    managed = start_gateway(stack_env, port, services.log_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/readyz", 60, managed.proc)
        yield url
    finally:
        managed.stop()


def wait_for_heartbeat(rt: Runtime, timeout: float = 30.0) -> None:
    """Until a worker's heartbeat is in Redis: a test that flushed Redis (test_credits,
    test_backup) wipes them, and the workers write theirs again within a beat (5 s)."""
    deadline = time.monotonic() + timeout
    while not any(rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*")):
        assert time.monotonic() < deadline, "no worker heartbeat"
        time.sleep(0.2)


@contextlib.contextmanager
def consumer_paused(rt: Runtime, queue: str) -> Iterator[None]:
    """The workers consuming `queue` stop taking its jobs (Celery remote control) until the
    block ends, whatever happens in it. Only those workers: add_consumer sent to every worker
    would make the others (the security suite's strict worker) consume this queue too."""
    control = rt.celery.control
    active = control.inspect(timeout=5).active_queues() or {}
    nodes = [node for node, queues in active.items() if any(q["name"] == queue for q in queues)]
    assert nodes, f"no worker consumes {queue}"
    assert control.cancel_consumer(queue, destination=nodes, reply=True, timeout=10)
    try:
        yield
    finally:
        assert control.add_consumer(queue, destination=nodes, reply=True, timeout=10)


# -- factories --------------------------------------------------------------------------------
def make_user(rt: Runtime, credits: int = 10) -> dict:
    """A fresh user with one API key and `credits` credits."""
    return create_user_with_key(rt, f"u-{uuid.uuid4().hex[:12]}@example.com", credits)


def make_admin_token(rt: Runtime, scope: str = "write") -> str:
    """A fresh admin token (the bearer value) of `scope`."""
    return AdminTokens(rt.db).create(f"test-{scope}-{uuid.uuid4().hex[:6]}", scope,
                                     Actor("cli:tests"))["token"]


def make_job(rt: Runtime, user: dict, outcome: str = "succeeded") -> str:
    """A job through the real credit engine, left queued, succeeded (charged) or failed."""
    job_id, _ = rt.credits.reserve_job(
        user["user_id"], None, {"input_image": "http://example.com/a.jpg", "output_format": "png",
                                "bg_color": None, "bg_gradient": None,
                                "gradient_direction": None}, 600)
    if outcome == "succeeded":
        assert rt.credits.commit(job_id, f"outputs/{job_id}.png", {"segment": 0.1})
    elif outcome == "failed":
        assert rt.credits.refund(job_id, "input_unreachable", "404 from the input host")
    return str(job_id)


def get_token(client, api_key: str) -> str:
    resp = client.post("/api/token", json={"key": api_key})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]


@pytest.fixture()
def user(rt: Runtime) -> dict:
    return make_user(rt, credits=10)


# -- an HTTP server for input images ----------------------------------------------------------
ImageServer = BlobServer  # stands in for customers' image hosts


@pytest.fixture(scope="session")
def images() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.close()


def redis_client(settings: Settings) -> redis_lib.Redis:
    return redis_lib.Redis.from_url(settings.redis_url)
