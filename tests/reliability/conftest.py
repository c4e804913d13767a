"""A private stack per test module, whose servers the tests may kill and restart."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.app import create_app
from shared.config import Settings
from shared.db import migrate
from shared.runtime import Runtime
from shared.storage import Storage
from shared.tasks import HEARTBEAT_PREFIX
from tools.stack.processes import (
    REPO,
    Managed,
    S3Ports,
    Services,
    child_pids,
    free_port,
    start_gateway,
    start_postgres,
    start_redis,
    start_s3,
    start_worker,
    wait_http_ok,
)


class PrivateStack:
    """Redis, PostgreSQL, S3 and one worker that belong to one test module only."""

    def __init__(self, **env: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bgr-rel-"))
        os.chmod(self.root, 0o755)  # noqa: S103 - PostgreSQL (as `postgres`) must get in
        self.services = Services(self.root, free_port(), free_port(), free_port(S3Ports.SPAN))
        self.extra_env = env
        self.worker: Managed | None = None
        self.gateway: Managed | None = None

    def start(self) -> PrivateStack:
        self.services.start()
        self.env = {
            "APP_ENV": "development", **self.services.env(), "S3_BUCKET": "rel-outputs",
            "U2NET_HOME": os.environ.get("U2NET_HOME", str(REPO / ".models")),
            "INPUT_ALLOW_NETWORKS": "127.0.0.0/8", "INPUT_CONNECT_TIMEOUT": "2",
            "INPUT_READ_TIMEOUT": "5", "REAPER_INTERVAL_SECONDS": "1",
            "ORT_INTRA_OP_THREADS": "1", "WORKER_METRICS_PORT": "0", **self.extra_env,
        }
        self.settings = Settings.from_env(self.env)
        migrate(self.settings.database_url)
        Storage(self.settings).ensure_bucket()
        self.rt = Runtime(self.settings)
        self.start_worker()
        return self

    def start_worker(self) -> None:
        self.worker = start_worker(self.env, self.services.log_dir, concurrency=1,
                                   name="rel-worker")
        deadline = time.monotonic() + 180
        while not any(self.rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*")):
            if self.worker.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.services.log_dir / "rel-worker.log").read_text()[-3000:])
            time.sleep(0.2)

    def start_gateway(self, **env: str) -> str:
        port = free_port()
        self.gateway = start_gateway({**self.env, **env}, port, self.services.log_dir)
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/readyz", 60, self.gateway.proc)
        return url

    def worker_children(self) -> list[int]:
        assert self.worker is not None
        return child_pids(self.worker.proc.pid)

    def app(self, **overrides: object):
        import dataclasses

        return create_app(dataclasses.replace(self.settings, **overrides))

    # -- faults -------------------------------------------------------------------------------
    def _managed(self, name: str) -> Managed:
        return next(m for m in self.services.procs if m.name == name)

    def stop_service(self, name: str) -> None:
        managed = self._managed(name)
        if name == "s3":
            managed.proc.kill()
            managed.proc.wait(10)
        managed.stop()

    def start_service(self, name: str) -> None:
        svc = self.services
        index = next(i for i, m in enumerate(svc.procs) if m.name == name)
        if name == "redis":
            svc.procs[index] = start_redis(svc.root / "redis", svc.redis_port, svc.log_dir)
        elif name == "postgres":
            svc.procs[index] = start_postgres(svc.root / "pg", svc.pg_port, svc.log_dir)
        elif name == "s3":
            svc.procs[index] = start_s3(svc.root / "s3", svc.s3_port, svc.log_dir,
                                        svc.s3_access_key, svc.s3_secret_key)

    def stop(self) -> None:
        for managed in (self.gateway, self.worker):
            if managed is not None:
                managed.stop(timeout=30)
        self.rt.close()
        self.services.stop(throwaway=True)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def private_stack() -> Iterator[PrivateStack]:
    stack = PrivateStack().start()
    yield stack
    stack.stop()
