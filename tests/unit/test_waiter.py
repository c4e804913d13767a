"""gateway/waiter.py without Redis: routing results to slots, and spotting a client that left."""

from __future__ import annotations

import os
import resource
import socket

from gateway.waiter import Waiter, client_gone


def test_results_reach_every_slot_of_their_job_and_nothing_is_left_behind() -> None:
    waiter = Waiter("redis://127.0.0.1:1/0")  # nothing listens: the loop just retries
    try:
        first, replay, other = (waiter.register("a"), waiter.register("a"),
                                waiter.register("b"))
        assert waiter.waiting() == 3
        waiter._deliver_raw(b'{"job_id": "a", "status": "succeeded"}')
        assert first.event.is_set() and replay.event.is_set() and not other.event.is_set()
        assert first.result == {"job_id": "a", "status": "succeeded"}
        waiter._deliver_raw(b"not json")  # ignored, the loop goes on
        waiter._deliver_raw(b'{"job_id": "nobody", "status": "failed"}')  # no waiter: harmless
        for slot in (first, replay, other):
            waiter.unregister(slot)
        waiter.unregister(other)  # twice: still fine
        assert waiter.waiting() == 0 and not waiter._slots
    finally:
        waiter.stop()


def test_client_gone_sees_eof_only_even_past_descriptor_1024() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 2048), hard), hard))
    filler = [os.dup(0) for _ in range(1100)]  # push the next sockets past select's limit
    try:
        ours, theirs = socket.socketpair()
        assert ours.fileno() > 1024
        environ = {"gunicorn.socket": ours}
        assert client_gone(environ) is False  # connected, silent
        theirs.sendall(b"GET / HTTP/1.1\r\n")  # a pipelined next request is not a hang-up
        assert client_gone(environ) is False
        ours.recv(64)
        theirs.close()
        assert client_gone(environ) is True
        ours.close()
        assert client_gone({}) is False  # not under gunicorn (the test client)
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
