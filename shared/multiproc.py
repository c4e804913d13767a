"""The directory prometheus-client's multiprocess mode shares between a server's processes.

Gunicorn workers and Celery pool children are separate processes, so each writes its metrics
to files in PROMETHEUS_MULTIPROC_DIR and the process that serves /metrics adds them up.
prometheus_client picks its mode when it is first imported, from that variable: so this module
must not import it, and a server's parent sets the variable before any child starts.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(role: str) -> Path:
    """Use $PROMETHEUS_MULTIPROC_DIR (created if missing), or a fresh private temp directory.

    Either way the variable is set afterwards, for this process and the children it starts. A
    temp directory is removed when the process that made it exits (not its forked children).
    """
    configured = os.environ.get(ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    path = Path(tempfile.mkdtemp(prefix=f"bgr-metrics-{role}-"))
    os.environ[ENV] = str(path)
    atexit.register(_remove, path, os.getpid())
    return path


def wipe_stale(path: Path, keep_pid: int | None = None) -> None:
    """Delete the files a previous run left (their counts would be added to ours)."""
    for file in path.glob("*.db"):
        if keep_pid is not None and file.stem.endswith(f"_{keep_pid}"):
            continue
        file.unlink(missing_ok=True)


def _remove(path: Path, owner_pid: int) -> None:
    # Forked children inherit atexit handlers (gunicorn workers exit through them): only the
    # process that made the directory may delete it, or a recycled worker would take it away
    # from the live ones.
    if os.getpid() == owner_pid:
        shutil.rmtree(path, ignore_errors=True)
