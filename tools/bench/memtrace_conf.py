"""Gunicorn config for measuring memory per held request: deploy's settings plus a probe.

`gunicorn -c tools/bench/memtrace_conf.py gateway.wsgi:app` with MEMTRACE_DIR set: the worker
starts tracemalloc (MEMTRACE_FRAMES deep) and, whenever MEMTRACE_DIR/<name>.req appears, writes
MEMTRACE_DIR/<name>.json: RSS, glibc's heap counters, greenlets and their frame depth, and the
top allocations by traceback, diffed against the first probe. With `settle` in the trigger's
text it first runs gc.collect() and malloc_trim(0) and sleeps, so RSS shows what a held request
keeps rather than the burst's allocator high-water. Measurement only: never in deployments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"
exec(compile(_DEPLOY.read_text(), str(_DEPLOY), "exec"))  # noqa: S102 - our own settings file


def post_worker_init(worker: Any) -> None:
    import gevent

    from tools.bench.memprobe import watch

    if os.environ.get("MEMTRACE_KEEP_BODY") == "1":  # the behaviour before release_body
        import gateway.jobs

        gateway.jobs.release_body = lambda uploads: None

    gevent.spawn(watch, Path(os.environ["MEMTRACE_DIR"]), int(os.environ.get("MEMTRACE_FRAMES",
                                                                             "12")))
