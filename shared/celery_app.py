"""The one Celery app: broker and backend on Redis, reliability settings, queue routing."""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from shared.config import Settings
from shared.tasks import REMOVE_BACKGROUND


def make_celery(settings: Settings) -> Celery:
    """Build the Celery app both sides use (the gateway only sends by name)."""
    app = Celery("bgremove", broker=settings.redis_url, backend=settings.redis_url,
                 set_as_current=False)
    app.conf.update(
        # A worker consumes its pool's queue for its model (the gateway names one per job).
        task_queues=[Queue(settings.worker_queue)],
        task_default_queue=settings.worker_queue,
        task_routes={REMOVE_BACKGROUND: {"queue": settings.worker_queue}},
        task_serializer="json", result_serializer="json", accept_content=["json"],
        # A task is acknowledged only once done, and redelivered if its worker dies mid-task;
        # the task is idempotent (fixed output key, charge unique per job).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        # Results travel on our own per-job Redis list and channel (shared.tasks.publish_result);
        # the gateway sends with ignore_result, so Celery's backend stores none of them.
        result_expires=3600,
        task_ignore_result=False,
        # Unacked messages come back after this; it must exceed the hard time limit.
        broker_transport_options={"visibility_timeout": settings.task_time_limit + 60},
        broker_connection_retry_on_startup=True,
        # Connections one process keeps for sending tasks: the gateway's greenlets queue for
        # them (a send takes a millisecond), so a few are enough and Redis' count stays bounded.
        broker_pool_limit=settings.celery_broker_pool_limit,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app
