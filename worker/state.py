"""A worker process's state: its settings, its connections and the Celery app of its tasks.

Both the Celery entry (worker/app.py) and the tasks (worker/tasks.py) use it; neither imports
the other. Importing it imports no prometheus_client (shared.runtime counts lazily), so
worker/app.py can still choose the metrics mode after it.
"""

from __future__ import annotations

from shared.config import Settings
from shared.runtime import Runtime

settings = Settings.from_env()
# This process's connections. A forked pool child replaces it with fresh ones (worker/app.py):
# read it as `state.runtime` when needed, never `from worker.state import runtime`.
runtime = Runtime(settings)
app = runtime.celery
