"""One waiter per gateway process: every job's completion arrives on one Redis connection.

A waiting request registers its job id here and sleeps on an Event; it holds no thread and no
Redis connection of its own (under gunicorn's gevent worker a request is a greenlet, and this
module's thread is one too). The worker PUBLISHes each result on DONE_CHANNEL besides pushing
it on the job's list (shared/tasks.py); the waiter's one subscription receives every result
and wakes the requests waiting on that job. A result with nobody waiting (the request timed
out, its client left, or the gateway restarted) is dropped here: the job's row in PostgreSQL
still tells its outcome (GET /api/v1/jobs/<id>).

Pub/sub keeps nothing for a subscriber that is away, so after every (re)subscription the waiter
reads the job lists of everyone registered: a result published before that is still there.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import redis as redis_lib

from shared.tasks import DONE_CHANNEL, done_key

try:  # gevent's patched poll waits on its hub; the original answers at once for timeout 0
    from gevent.monkey import get_original

    _poll = get_original("select", "poll")
except ImportError:  # pragma: no cover - gevent is a gateway dependency
    _poll = select.poll

log = logging.getLogger("gateway.waiter")
# How long one read of the subscription blocks: the loop's pace when nothing arrives.
POLL_SECONDS = 1.0
RECONNECT_SECONDS = 0.5
MAX_RECONNECT_SECONDS = 5.0


@dataclass(eq=False)
class Slot:
    """One waiting request: its job, the Event that wakes it and the result delivered."""

    job_id: str
    event: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None


class Waiter:
    """Routes job results from one subscription to the requests registered for them."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._slots: dict[str, list[Slot]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.subscribed = threading.Event()  # set while the subscription is live (tests)

    def register(self, job_id: str) -> Slot:
        """Before the job is sent: a result published from now on reaches the slot."""
        self._ensure_started()
        slot = Slot(job_id)
        with self._lock:
            self._slots.setdefault(job_id, []).append(slot)
        return slot

    def unregister(self, slot: Slot) -> None:
        """Forget the slot (answered, timed out or its client gone): no waiter is left behind."""
        with self._lock:
            slots = self._slots.get(slot.job_id, [])
            if slot in slots:
                slots.remove(slot)
            if not slots:
                self._slots.pop(slot.job_id, None)

    def waiting(self) -> int:
        """Requests registered now."""
        with self._lock:
            return sum(len(s) for s in self._slots.values())

    def stop(self) -> None:
        self._stopped.set()

    # -- the loop -------------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="bgr-waiter", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        pause = RECONNECT_SECONDS
        while not self._stopped.is_set():
            client = redis_lib.Redis.from_url(
                self.redis_url, socket_connect_timeout=3, socket_timeout=POLL_SECONDS + 10,
                client_name="bgr-gateway-waiter")
            try:
                with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    pubsub.subscribe(DONE_CHANNEL)
                    pubsub.get_message(timeout=POLL_SECONDS)  # the subscribe confirmation
                    self.subscribed.set()
                    pause = RECONNECT_SECONDS
                    self._reconcile(client)
                    while not self._stopped.is_set():
                        message = pubsub.get_message(timeout=POLL_SECONDS)
                        if message and message.get("type") == "message":
                            self._deliver_raw(message["data"])
            except (redis_lib.RedisError, OSError) as exc:
                # Loud once, then quiet while Redis stays away (retried with a growing pause).
                level = logging.WARNING if pause == RECONNECT_SECONDS else logging.DEBUG
                log.log(level, "job results subscription lost: %s; reconnecting",
                        type(exc).__name__)
            finally:
                self.subscribed.clear()
                client.close()
            self._stopped.wait(pause)
            pause = min(pause * 2, MAX_RECONNECT_SECONDS)

    def _reconcile(self, client: redis_lib.Redis) -> None:
        """Deliver results that were pushed while nobody listened (each job's list keeps it)."""
        with self._lock:
            job_ids = list(self._slots)
        for start in range(0, len(job_ids), 500):
            chunk = job_ids[start:start + 500]
            pipe = client.pipeline(transaction=False)
            for job_id in chunk:
                pipe.lindex(done_key(job_id), 0)
            for raw in pipe.execute():
                if raw:
                    self._deliver_raw(raw)

    def _deliver_raw(self, raw: bytes) -> None:
        try:
            result = json.loads(raw)
        except ValueError:
            log.warning("malformed job result ignored")  # never from our worker
            return
        if isinstance(result, dict):
            self._deliver(result)

    def _deliver(self, result: dict[str, Any]) -> None:
        with self._lock:
            slots = list(self._slots.get(str(result.get("job_id")), ()))
        for slot in slots:
            slot.result = result
            slot.event.set()


def client_gone(environ: dict[str, Any]) -> bool:
    """True when the request's client closed its connection (a readable socket at EOF).

    Bytes waiting (a pipelined next request) are left alone: only an EOF counts.
    """
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return False
    try:
        # poll, not select: a process holding thousands of connections has descriptors past
        # select's 1024. A zero-timeout poll never blocks, so the unpatched one will do.
        poller = _poll()
        poller.register(sock.fileno(), select.POLLIN)
        if not poller.poll(0):
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True  # closed or reset under us
