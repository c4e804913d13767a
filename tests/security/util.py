"""Helpers of the security tests: connection recorders, scripted input servers, assertions."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.runtime import Runtime

ENDPOINT = "/api/v1/image/remove-background"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_remove(client: Any, token: str, **body: object) -> Any:
    """POST remove-background through the in-process Flask test client."""
    return client.post(ENDPOINT, json=body, headers=auth(token))


def assert_error(resp: Any, status: int, code: str) -> dict:
    """The response is `status` in the error envelope with `code`, and leaks no internals."""
    body = resp.get_json() if hasattr(resp, "get_json") else resp.json()
    assert resp.status_code == status, body
    assert body["success"] is False, body
    assert isinstance(body["message"], str) and body["message"], body
    assert body["error"]["code"] == code, body
    text = resp.get_data(as_text=True) if hasattr(resp, "get_data") else resp.text
    assert "Traceback" not in text and "<html" not in text.lower()
    return body


def assert_balance(rt: Runtime, user: dict, expected: int) -> None:
    """Live (Redis) balance and the ledger agree, and equal expected."""
    uid = user["user_id"]
    assert rt.credits.balance(uid) == expected == rt.credits.ledger_balance(uid)


def assert_no_job(rt: Runtime, user: dict) -> None:
    """Nothing was queued for this user (refused before the reservation)."""
    assert rt.db.all("recent_jobs", user_id=user["user_id"], limit=1) == []


def last_job(rt: Runtime, user: dict) -> dict:
    jobs = rt.db.all("recent_jobs", user_id=user["user_id"], limit=1)
    assert jobs, "no job was recorded"
    return rt.db.one("get_job", job_id=jobs[0]["id"])


def assert_failed_and_refunded(rt: Runtime, user: dict, credits: int, code: str) -> dict:
    """The user's last job failed with code; it left no ledger row; the balance is intact."""
    job = last_job(rt, user)
    assert job["status"] == "failed" and job["error_code"] == code, job
    kinds = [r["kind"] for r in rt.db.all("ledger_for_job", job_id=job["id"])]
    assert "charge" not in kinds, kinds
    assert_balance(rt, user, credits)
    assert not rt.storage.exists(f"outputs/{job['id']}.png")
    return job


def assert_charged_once(rt: Runtime, user: dict, credits_before: int) -> dict:
    """The user's last job succeeded and cost exactly one ledger charge."""
    job = last_job(rt, user)
    assert job["status"] == "succeeded", job
    kinds = [r["kind"] for r in rt.db.all("ledger_for_job", job_id=job["id"])]
    assert kinds == ["charge"], kinds
    assert_balance(rt, user, credits_before - 1)
    return job


def log_size(log: Path) -> int:
    """Where a log ends now (read the lines written after this with worker_log_problems)."""
    return log.stat().st_size if log.exists() else 0


def worker_log_problems(log: Path, since: int = 0) -> list[str]:
    """Lines written after `since` to a Celery worker log that say a child died or a task broke."""
    if not log.exists():
        return []
    with log.open("rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    bad = ("WorkerLostError", "exited with 'signal", "Process 'ForkPoolWorker",
           "job failed unexpectedly", "Traceback", "MemoryError")
    return [line for line in text.splitlines() if any(marker in line for marker in bad)]


Route = Callable[[http.server.BaseHTTPRequestHandler], None]


class ScriptedServer:
    """An HTTP server whose routes are functions writing raw answers (hostile input hosts)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.stop = threading.Event()  # set at teardown: dripping handlers give up
        self.hits: list[str] = []
        routes, hits = self.routes, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?")[0]
                hits.append(path)
                self.close_connection = True
                route = routes.get(path)
                if route is None:
                    self.send_error(404)
                    return
                # OSError: the fetcher hung up (size limit, deadline), as expected.
                with contextlib.suppress(OSError):
                    route(self)

            def log_message(self, *args: object) -> None:
                pass

        server_cls = http.server.ThreadingHTTPServer
        if ":" in host:
            server_cls = type("V6Server", (server_cls,), {"address_family": socket.AF_INET6})
        self.httpd = server_cls((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *a: None  # type: ignore[method-assign]
        self.host = host
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def add_bytes(self, path: str, body: bytes, content_type: str = "image/jpeg") -> str:
        def send(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        return self.add(path, send)

    def add_redirect(self, path: str, location: str, status: int = 302) -> str:
        def send(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()
        return self.add(path, send)

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
