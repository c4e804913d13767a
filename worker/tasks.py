"""The Celery task the gateway enqueues (shared/tasks.py: its name and payload): one job each.

The task runs the job (worker/job.py: the stages in order, then the charge or the refund, and
the result published to the waiting request). The two signal receivers below put the job id on
every log line the task writes, Celery's own included.
"""

from __future__ import annotations

from typing import Any

from celery.signals import task_postrun, task_prerun

from shared import logs, metrics
from shared.tasks import REMOVE_BACKGROUND, JobResult, RemoveBackgroundPayload
from worker import job, state


@state.app.task(name=REMOVE_BACKGROUND)
def remove_background(payload: RemoveBackgroundPayload) -> JobResult:
    """Celery wiring: process (which publishes the result for the waiting gateway thread)."""
    rt = state.runtime  # this process's, fresh after a fork (worker/app.py)
    try:
        return job.process(rt, payload)
    except Exception:
        # Nothing recorded (the database or Redis failed under the job): Celery logs it and
        # the reaper refunds it later; count it next to the recorded failures.
        metrics.observe_task("error", {}, "unhandled")
        raise


# The job id on every line of a task, Celery's own "succeeded" / "raised" lines included: they
# are written between these two signals, in the process and thread that runs the task.
@task_prerun.connect
def _bind_job(task: Any = None, args: Any = None, **_: Any) -> None:
    if getattr(task, "name", None) == REMOVE_BACKGROUND and args and isinstance(args[0], dict):
        logs.bind(job_id=str(args[0].get("job_id")))


@task_postrun.connect
def _unbind_job(**_: Any) -> None:
    logs.clear()  # the pool process runs other jobs next
