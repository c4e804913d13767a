"""shared/logs.py: one JSON object per line, the bound ids on it, and no secret in it."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from shared import logs, multiproc

JWT = jwt.encode({"sub": "7", "kid": 3, "type": "access"}, "x" * 32, algorithm="HS256")
API_KEY = "bgr_3f9c1a2b4d5e.q1Zl8mN0-pQ_rStUvWxYz0123456789abcdefGHIJKLm"
PRESIGNED = ("http://127.0.0.1:9000/bgremove-outputs/outputs/3b6f.png?X-Amz-Algorithm="
             "AWS4-HMAC-SHA256&X-Amz-Credential=bgr-dev-access%2F20260101%2Fus-east-1%2Fs3%2F"
             "aws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders="
             "host&X-Amz-Signature=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")


@pytest.fixture()
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through JsonFormatter into a buffer (the root logger is left alone)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("bgr.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logs.clear()
    yield logger, stream
    logger.removeHandler(handler)
    logs.clear()


def lines(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_json_shape_and_bound_ids(capture) -> None:
    logger, stream = capture
    logger.info("outside any job")
    logs.bind(job_id="6f1c7c0e-0000-4000-8000-000000000001", user_id=42, request_id="req-1")
    logger.warning("fetch took %.1f s", 2.5, extra={"stage": "fetch", "timings": {"fetch": 2.5}})
    first, second = lines(stream)

    assert list(first)[:4] == ["ts", "level", "logger", "message"]
    assert first["level"] == "INFO" and first["logger"] == "bgr.test.logs"
    assert first["message"] == "outside any job"
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    assert not {"job_id", "user_id", "request_id"} & set(first)  # only when known
    assert isinstance(first["pid"], int)

    assert second["level"] == "WARNING"
    assert second["message"] == "fetch took 2.5 s"
    assert (second["job_id"], second["user_id"], second["request_id"]) == (
        "6f1c7c0e-0000-4000-8000-000000000001", 42, "req-1")
    assert second["stage"] == "fetch" and second["timings"] == {"fetch": 2.5}


def test_explicit_extra_wins_and_exceptions_are_one_line(capture) -> None:
    logger, stream = capture
    logs.bind(job_id="bound")
    try:
        raise RuntimeError("multi\nline")
    except RuntimeError:
        logger.exception("job failed unexpectedly", extra={"job_id": "explicit"})
    (entry,) = lines(stream)
    assert entry["job_id"] == "explicit"
    assert entry["level"] == "ERROR"
    assert "Traceback" in entry["exc"] and "RuntimeError: multi\nline" in entry["exc"]


def test_any_text_stays_one_ascii_line(capture) -> None:
    # A client's path decoded as latin-1 can hold U+0085 (NEL); U+2028 too: splitlines() and
    # log shippers end a line there, so the record must not carry them raw.
    logger, stream = capture
    logger.info("PATCH /admin/v1/users/\u00f1\u0085\u00a3\u2028\u00e9/limits")
    assert stream.getvalue().isascii()
    (entry,) = lines(stream)
    assert entry["message"] == "PATCH /admin/v1/users/\u00f1\u0085\u00a3\u2028\u00e9/limits"


def test_bound_restores_and_threads_do_not_share(capture) -> None:
    logs.bind(user_id=1)
    with logs.bound(job_id="j", user_id=2):
        assert logs.current() == {"job_id": "j", "user_id": 2, "request_id": None}
        seen: dict = {}
        thread = threading.Thread(target=lambda: seen.update(logs.current()))
        thread.start()
        thread.join()
        assert seen == {"job_id": None, "user_id": None, "request_id": None}
    assert logs.current() == {"job_id": None, "user_id": 1, "request_id": None}
    logs.clear()
    assert logs.current() == {"job_id": None, "user_id": None, "request_id": None}


@pytest.mark.parametrize(("text", "secret", "kept"), [
    (f"Authorization: Bearer {JWT}", JWT, "Authorization: [redacted]"),
    (f"{{'HTTP_AUTHORIZATION': 'Bearer {JWT}'}}", JWT, "{'HTTP_AUTHORIZATION': '[redacted]'}"),
    ("authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "authorization=[redacted]"),
    (f"sent bearer {JWT} again", JWT, "sent bearer [redacted] again"),
    (f"token {JWT}.", JWT, "token [redacted]."),
    ("token aaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbb.cccccccccccccccccccc end",
     "aaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbb", "token [redacted] end"),
    (f'{{"key": "{API_KEY}"}}', API_KEY.split(".")[1], '{"key": "bgr_3f9c1a2b4d5e.[redacted]"}'),
    ("admin token bga_0a1b2c3d4e5f.Zm9vYmFyYmF6cXV4LXNlY3JldC1zZWNyZXQ created", "Zm9vYmFy",
     "admin token bga_0a1b2c3d4e5f.[redacted] created"),
    (f"output {PRESIGNED} ready", "X-Amz-Signature",
     "output http://127.0.0.1:9000/bgremove-outputs/outputs/3b6f.png?[redacted] ready"),
    ("params X-Amz-Credential=AKIAEXAMPLE%2F2026 X-Amz-Signature: deadbeef", "AKIAEXAMPLE",
     "params [redacted] [redacted]"),
    ("https://storage.googleapis.com/b/o?X-Goog-Signature=abc123&X-Goog-Date=1", "abc123",
     "https://storage.googleapis.com/b/o?[redacted]"),
    ("redis://:s3cret@redis:6379/0 and postgresql://bgr:pw@db/bgr", "s3cret",
     "redis://:[redacted]@redis:6379/0 and postgresql://bgr:[redacted]@db/bgr"),
])
def test_scrub_removes_secrets(text: str, secret: str, kept: str) -> None:
    out = logs.scrub(text)
    assert secret not in out
    assert out == kept


@pytest.mark.parametrize("text", [
    "Task bgremove.remove_background[6f1c7c0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f] succeeded in 0.8s",
    "celery.worker.strategy v5.7.0 127.0.0.1:16379 outputs/6f1c7c0e.png",
    "GET /api/v1/jobs/6f1c7c0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f 200",
    "key prefix bgr_3f9c1a2b4d5e revoked",
    "http://127.0.0.1:8080/photo.jpg?size=large&v=2",
])
def test_scrub_keeps_ordinary_text(text: str) -> None:
    assert logs.scrub(text) == text


def test_every_field_is_scrubbed(capture) -> None:
    logger, stream = capture
    try:
        raise ValueError(f"could not use {API_KEY}")
    except ValueError:
        logger.exception("request with %s failed", f"Bearer {JWT}",
                         extra={"headers": {"Authorization": f"Bearer {JWT}"},
                                "urls": [PRESIGNED], "key": API_KEY})
    raw = stream.getvalue()
    for secret in (JWT, API_KEY, "X-Amz-Signature", "X-Amz-Credential"):
        assert secret not in raw
    (entry,) = lines(stream)
    assert entry["message"] == "request with Bearer [redacted] failed"
    assert entry["headers"] == {"Authorization": "[redacted]"}
    assert entry["key"] == "bgr_3f9c1a2b4d5e.[redacted]"


def test_celery_lines_name_their_job(capture) -> None:
    logger = logging.getLogger("celery.worker.request")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger.addHandler(handler)
    try:
        logger.error("Hard time limit (150s) exceeded for %s[%s]", "bgremove.remove_background",
                     "6f1c7c0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
    finally:
        logger.removeHandler(handler)
    assert json.loads(stream.getvalue())["job_id"] == "6f1c7c0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def test_gunicorn_access_line_keeps_no_query_and_no_header(capture) -> None:
    """gunicorn passes its atoms (request line, every header, the environ) as the args."""
    logger, stream = capture
    logger.name = "gunicorn.access"  # the formatter looks at the record's logger name
    atoms = {"h": "10.0.0.7", "m": "POST", "U": "/api/v1/image/remove-background",
             "q": "X-Amz-Signature=abc&api_key=" + API_KEY, "s": "200", "B": 512,
             "r": "POST /api/v1/image/remove-background?X-Amz-Signature=abc HTTP/1.1",
             "L": "1.250000", "a": "curl/8.5", "{authorization}i": f"Bearer {JWT}",
             "{http_authorization}e": f"Bearer {JWT}", "{x-request-id}o": "req-9"}
    try:
        logger.info('%(h)s "%(r)s" %(s)s %({authorization}i)s', atoms)
    finally:
        logger.name = "bgr.test.logs"
    raw = stream.getvalue()
    for secret in (JWT, API_KEY, "X-Amz-Signature", "?"):
        assert secret not in raw
    (entry,) = lines(stream)
    assert entry["logger"] == "gunicorn.access"
    assert entry["message"] == "POST /api/v1/image/remove-background 200"
    assert entry["http"] == {"method": "POST", "path": "/api/v1/image/remove-background",
                             "status": "200", "bytes": 512, "remote": "10.0.0.7",
                             "user_agent": "curl/8.5", "duration_s": 1.25}
    assert entry["request_id"] == "req-9"  # from the response header: nothing was bound


def test_gunicorn_logconfig_names_the_formatter() -> None:
    config = logs.gunicorn_logconfig("INFO")
    assert config["formatters"]["json"]["()"] == "shared.logs.JsonFormatter"
    assert config["root"]["handlers"] == ["stderr"]
    for name in ("gunicorn.error", "gunicorn.access"):
        # Their own (plain text) handlers are dropped; the root's JSON one writes their lines.
        assert config["loggers"][name] == {"level": "INFO", "handlers": [], "propagate": True}


def test_multiproc_dir_is_wiped_of_stale_files_only(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "prom"
    monkeypatch.setenv(multiproc.ENV, str(target))
    assert multiproc.prepare("worker") == target and target.is_dir()
    assert os.environ[multiproc.ENV] == str(target)
    for name in ("counter_11.db", "histogram_11.db", "gauge_livesum_12.db", "counter_99.db"):
        (target / name).write_bytes(b"")
    (target / "notes.txt").write_text("not ours")
    multiproc.wipe_stale(target, keep_pid=99)
    assert sorted(p.name for p in target.iterdir()) == ["counter_99.db", "notes.txt"]
