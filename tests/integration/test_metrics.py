"""Prometheus metrics and JSON logs of the real processes: gunicorn gateway and Celery worker.

A Celery worker of this module's own (its own queue, metrics port and log file) runs the jobs
whose worker-side metrics and log lines are checked, so nothing else in the session adds to
them; the gateway side is checked in-process (Flask client) and on real gunicorn.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from shared.metrics import STAGES
from shared.tasks import HEARTBEAT_PREFIX
from tests.stack import get_token, make_user
from tools.stack.processes import (
    free_port,
    start_gateway,
    start_worker,
    wait_for_port,
    wait_http_ok,
)

POOL = "segment-metrics"
QUEUE = f"{POOL}.u2netp"  # the pool's queue for the test stack's model
RB = "/api/v1/image/remove-background"
SAMPLE_KEY = tuple[str, frozenset]
PRESIGN_QUERY = "?X-Amz-Signature=feedfacecafe&X-Amz-Credential=AKIAEXAMPLE%2F20260101"


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    arr = np.full((96, 96, 3), 235, np.uint8)
    arr[24:72, 24:72] = rng.integers(0, 255, 3, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG")
    return buf.getvalue()


def parse(text: str) -> dict[SAMPLE_KEY, float]:
    """Every sample of a text exposition, keyed by (name, labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def val(samples: dict[SAMPLE_KEY, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def label_values(samples: dict[SAMPLE_KEY, float], name: str, label: str) -> set[str]:
    return {dict(k)[label] for (n, k) in samples if n == name and label in dict(k)}


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a log file (Celery's start banner is plain text and skipped)."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))  # a line that starts like JSON must be JSON
    return out


def wait_for(predicate: Any, timeout: float = 15.0) -> Any:
    """Poll until predicate() is truthy (log lines and metrics land after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


# -- this module's worker and app ----------------------------------------------------------------
@pytest.fixture(scope="module")
def metrics_worker(stack_env, services, rt) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {**stack_env, "WORKER_METRICS_PORT": str(port), "QUEUE_NAME": POOL}
    managed = start_worker(env, services.log_dir, name="worker-metrics")
    log_file = services.log_dir / "worker-metrics.log"

    def live() -> bool:
        for key in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*"):
            raw = rt.redis.get(key)
            if raw and json.loads(raw).get("queue") == QUEUE:
                return True
        return False

    try:
        deadline = time.monotonic() + 180
        while not live():
            if managed.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"metrics worker did not come up:\n"
                                   f"{log_file.read_text()[-3000:]}")
            time.sleep(0.2)
        wait_for_port(port, managed.proc, "worker metrics", timeout=60)
        yield {"url": f"http://127.0.0.1:{port}/metrics", "log": log_file}
    finally:
        managed.stop(timeout=30)


@pytest.fixture(scope="module")
def metrics_app(settings, metrics_worker):
    app = create_app(dataclasses.replace(settings, queue_name=POOL))
    app.config.update(TESTING=True)
    yield app
    app.extensions["bgr"].close()


@pytest.fixture(scope="module")
def session(metrics_app, rt, images) -> dict[str, Any]:
    """One success, one 400 and one failed job (404 input) through this module's worker."""
    client = metrics_app.test_client()
    user = make_user(rt, credits=5)
    token = get_token(client, user["api_key"])
    auth = {"Authorization": f"Bearer {token}"}
    before = parse(client.get("/metrics").get_data(as_text=True))

    ok_url = images.add("metrics-ok.jpg", jpeg(1)) + PRESIGN_QUERY  # the query must not leak
    ok = client.post(RB, json={"input_image": ok_url}, headers=auth)
    assert ok.status_code == 200, ok.get_json()
    bad = client.post(RB, json={"input_image": ok_url, "output_format": "tiff"}, headers=auth)
    assert bad.status_code == 400, bad.get_json()
    missing_url = f"http://127.0.0.1:{images.port}/metrics-missing.jpg"  # answers 404
    missing = client.post(RB, json={"input_image": missing_url}, headers=auth)
    assert missing.status_code == 502, missing.get_json()
    assert missing.get_json()["error"]["code"] == "input_unreachable"

    jobs = {j["status"]: str(j["id"]) for j in rt.db.all("recent_jobs", user_id=user["user_id"],
                                                         limit=10)}
    job_id = jobs["succeeded"]
    status = client.get(f"/api/v1/jobs/{job_id}", headers=auth)
    assert status.status_code == 200
    return {"client": client, "user": user, "token": token, "before": before,
            "ok": ok, "jobs": jobs}


# -- gateway, in process ---------------------------------------------------------------------------
def test_gateway_counts_requests_by_rule_method_and_status(session) -> None:
    client, before = session["client"], session["before"]
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain")
    after = parse(resp.get_data(as_text=True))

    def delta(name: str, **labels: str) -> float:
        return val(after, name, **labels) - val(before, name, **labels)

    for status in ("200", "400", "502"):
        assert delta("bgremove_http_requests_total", route=RB, method="POST", status=status) == 1
        assert delta("bgremove_http_request_seconds_count", route=RB, method="POST",
                     status=status) == 1
    assert delta("bgremove_http_request_seconds_bucket", route=RB, method="POST", status="200",
                 le="+Inf") == 1
    # The rule, never the path: a job id would make a series per job.
    assert delta("bgremove_http_requests_total", route="/api/v1/jobs/<job_id>", method="GET",
                 status="200") == 1
    routes = label_values(after, "bgremove_http_requests_total", "route")
    assert not any(session["jobs"]["succeeded"] in r for r in routes)
    assert "/api/token" in routes
    # This process reserved two credits (the 400 reserved nothing); the worker commits/refunds.
    assert delta("bgremove_credit_operations_total", op="reserve") == 2
    assert ("bgremove_requests_waiting", frozenset()) in after
    assert val(after, "bgremove_queue_depth", queue=QUEUE) == 0


def test_gateway_request_id_is_echoed_or_made(metrics_app) -> None:
    client = metrics_app.test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers[
        "X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id; {}"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)


def test_requests_waiting_counts_requests_in_flight(settings, rt, images) -> None:
    """A request blocked on a queue nobody consumes is waiting until it answers 504."""
    queue = f"segment-nobody-{uuid.uuid4().hex[:6]}"
    app = create_app(dataclasses.replace(settings, queue_name=queue,
                                         request_timeout_seconds=4))
    user = make_user(rt, credits=1)
    token = get_token(app.test_client(), user["api_key"])
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(app.test_client().post(
        RB, json={"input_image": images.add("metrics-wait.jpg", jpeg(2))},
        headers={"Authorization": f"Bearer {token}"})))

    def waiting() -> float:
        return val(parse(app.test_client().get("/metrics").get_data(as_text=True)),
                   "bgremove_requests_waiting")

    try:
        idle = waiting()
        thread.start()
        assert wait_for(lambda: waiting() == idle + 1, timeout=3)
        assert wait_for(lambda: val(parse(app.test_client().get("/metrics").get_data(
            as_text=True)), "bgremove_queue_depth", queue=f"{queue}.u2netp") == 1, timeout=3)
        thread.join(15)
        assert answers[0].status_code == 504
        assert waiting() == idle
    finally:
        thread.join(15)
        rt.redis.delete(queue)
        for job in rt.db.all("recent_jobs", user_id=user["user_id"], limit=5):
            rt.credits.refund(job["id"], "timeout", "test cleanup")
        app.extensions["bgr"].close()


def test_metrics_answer_without_redis(settings) -> None:
    app = create_app(dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        resp = app.test_client().get("/metrics")
        assert resp.status_code == 200
        text = resp.get_data(as_text=True)
        assert "# TYPE bgremove_queue_depth gauge" in text
        assert not any(n == "bgremove_queue_depth" for n, _ in parse(text))
        assert "bgremove_http_requests_total" in text
    finally:
        app.extensions["bgr"].close()


# -- worker -------------------------------------------------------------------------------------
def test_worker_metrics(session, metrics_worker) -> None:
    text = requests.get(metrics_worker["url"], timeout=5).text
    samples = parse(text)
    for stage in STAGES:  # all six ran for the successful job
        assert val(samples, "bgremove_task_stage_seconds_count", stage=stage) >= 1, stage
        assert val(samples, "bgremove_task_stage_seconds_sum", stage=stage) > 0, stage
    assert val(samples, "bgremove_tasks_total", status="succeeded") == 1
    assert val(samples, "bgremove_tasks_total", status="failed") == 1
    assert val(samples, "bgremove_task_failures_total", code="input_unreachable") == 1
    # One model-info series: the model, its provider, the precision auto chose and why.
    (info,) = [dict(k) for (n, k) in samples if n == "bgremove_model_info"]
    assert info["model"] == "u2netp" and info["provider"] == "CPUExecutionProvider"
    assert info["precision"] in ("fp32", "int8")
    assert info["reason"].startswith(info["precision"] + ": ")
    assert val(samples, "bgremove_model_info", **info) == 1
    assert val(samples, "bgremove_model_load_seconds", model="u2netp") > 0
    assert val(samples, "bgremove_credit_operations_total", op="commit") >= 1
    assert val(samples, "bgremove_credit_operations_total", op="refund") >= 1
    # Multiprocess mode: the pool child's values, summed by the main process (no pid label).
    assert not any("pid" in dict(labels) for _, labels in samples)


def test_worker_log_lines_are_json_with_job_and_user(session, metrics_worker) -> None:
    log_file: Path = metrics_worker["log"]
    user_id = session["user"]["user_id"]
    for status, job_id in session["jobs"].items():
        final = "Task bgremove.remove_background[" + job_id + "] succeeded"
        assert wait_for(lambda f=final: f in log_file.read_text()), (status, job_id)
        mine = [e for e in json_lines(log_file) if e.get("job_id") == job_id]
        messages = [e["message"] for e in mine]
        assert "job started" in messages and f"job {status}" in messages, messages
        assert any(m.startswith(final) for m in messages)
        for entry in mine:
            assert entry["user_id"] == user_id, entry
            assert {"ts", "level", "logger", "message", "pid"} <= set(entry)
        # No plain-text line about this job slipped past the JSON formatter.
        plain = [ln for ln in log_file.read_text().splitlines()
                 if job_id in ln and not ln.startswith("{")]
        assert plain == []
    summary = next(e for e in json_lines(log_file) if e.get("job_id") == session["jobs"][
        "succeeded"] and e["message"] == "job succeeded")
    assert set(summary["timings"]) == set(STAGES)


def test_worker_log_has_no_secrets(session, metrics_worker) -> None:
    text = metrics_worker["log"].read_text()
    for secret in (session["user"]["api_key"], session["token"], "X-Amz-Signature",
                   "X-Amz-Credential", "feedfacecafe"):
        assert secret not in text


# -- real gunicorn ------------------------------------------------------------------------------
def test_gunicorn_metrics_and_logs(gateway_url, services, rt, images) -> None:
    user = make_user(rt, credits=3)
    token = requests.post(f"{gateway_url}/api/token", json={"key": user["api_key"]},
                          timeout=10).json()["access_token"]
    rid = f"metrics-{uuid.uuid4().hex[:12]}"
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": rid}
    ok = requests.post(f"{gateway_url}{RB}", headers=headers, timeout=90,
                       json={"input_image": images.add("metrics-gw.jpg", jpeg(3))
                             + PRESIGN_QUERY})
    assert ok.status_code == 200, ok.text
    assert ok.headers["X-Request-ID"] == rid
    job_id = re.search(r"outputs/([0-9a-f-]{36})\.", ok.json()["data"]["output_image"]).group(1)
    bad = requests.post(f"{gateway_url}{RB}", headers=headers, timeout=10,
                        json={"input_image": "ftp://example.com/x.jpg"})
    assert bad.status_code == 400
    assert requests.get(f"{gateway_url}/api/v1/jobs/{job_id}", headers=headers,
                        timeout=10).status_code == 200
    assert requests.get(f"{gateway_url}/no/such/{job_id}", timeout=10).status_code == 404
    assert requests.get(f"{gateway_url}/healthz{PRESIGN_QUERY}", headers=headers,
                        timeout=10).status_code == 200

    resp = requests.get(f"{gateway_url}/metrics", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    samples = parse(resp.text)
    assert val(samples, "bgremove_http_requests_total", route=RB, method="POST",
               status="200") >= 1
    assert val(samples, "bgremove_http_requests_total", route=RB, method="POST",
               status="400") >= 1
    assert val(samples, "bgremove_http_requests_total", route="/api/v1/jobs/<job_id>",
               method="GET", status="200") >= 1
    assert val(samples, "bgremove_http_requests_total", route="<unmatched>", method="GET",
               status="404") >= 1
    assert val(samples, "bgremove_http_request_seconds_count", route=RB, method="POST",
               status="200") >= 1
    assert val(samples, "bgremove_credit_operations_total", op="reserve") >= 1
    assert not any(job_id in dict(k).get("route", "") for _, k in samples)
    assert ("bgremove_requests_waiting", frozenset()) in samples
    # One depth per served model's queue.
    assert ("bgremove_queue_depth", frozenset({("queue", "segment.u2netp")})) in samples
    assert ("bgremove_queue_depth", frozenset({("queue", "segment.u2net")})) in samples
    # Multiprocess mode: counters come from the files, without the per-process "_created".
    assert "bgremove_http_requests_created" not in resp.text

    log_file = services.log_dir / "gateway.log"

    def my_lines() -> list[dict[str, Any]]:
        return [e for e in json_lines(log_file) if e.get("request_id") == rid]

    assert wait_for(lambda: len([e for e in my_lines() if e["logger"] == "gunicorn.access"])
                    >= 4)
    mine = my_lines()
    assert all(e["user_id"] == user["user_id"] for e in mine), mine
    queued = [e for e in mine if e["message"] == "job queued"]
    assert [e["job_id"] for e in queued] == [job_id]
    access = [e for e in mine if e["logger"] == "gunicorn.access"]
    rb_access = next(e for e in access if e["http"]["path"] == RB and e["http"]["status"] == "200")
    assert rb_access["job_id"] == job_id  # bound until gunicorn wrote the access line
    assert rb_access["http"]["method"] == "POST" and rb_access["http"]["duration_s"] > 0
    assert any(e["http"]["path"] == "/healthz" for e in access)
    text = log_file.read_text()
    for secret in (user["api_key"], token, "X-Amz-Signature", "X-Amz-Credential"):
        assert secret not in text


def test_gunicorn_workers_share_one_count(stack_env, services) -> None:
    """Two gunicorn workers each answer some requests; every scrape, whichever worker answers
    it, counts all of them (without multiprocess mode each would count only its own)."""
    port = free_port()
    managed = start_gateway({**stack_env, "GUNICORN_WORKERS": "2"},
                            port, services.log_dir)
    url = f"http://127.0.0.1:{port}"
    log_file = services.log_dir / "gateway.log"
    tag = uuid.uuid4().hex[:12]

    def hit(i: int) -> None:
        with requests.Session() as s:  # a new connection each: the kernel picks a worker
            resp = s.get(f"{url}/healthz", headers={"X-Request-ID": f"{tag}-{i}"}, timeout=10)
            assert resp.status_code == 200

    def serving_pids() -> set[int]:
        return {e["pid"] for e in json_lines(log_file) if e["logger"] == "gunicorn.access"
                and str(e.get("request_id", "")).startswith(tag)}

    try:
        wait_http_ok(f"{url}/healthz", 60, managed.proc)
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            # Concurrent requests until both workers have answered some (a worker still
            # loading the app, or an idle kernel, may leave one with all of a first batch).
            while sent < 800 and not wait_for(lambda: len(serving_pids()) == 2, timeout=0.5):
                list(pool.map(hit, range(sent, sent + 40)))
                sent += 40
        assert len(serving_pids()) == 2
        totals = set()
        for _ in range(6):
            with requests.Session() as s:
                samples = parse(s.get(f"{url}/metrics", timeout=10).text)
            totals.add(val(samples, "bgremove_http_requests_total", route="/healthz",
                           method="GET", status="200"))
        (total,) = totals  # the same sum whichever worker answered
        assert total >= sent  # (plus wait_http_ok's)
    finally:
        managed.stop()
