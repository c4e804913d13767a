"""Dashboards and alerts against a real Prometheus scraping a real gateway and worker.

promtool checks the rule files; a Prometheus server on a free port scrapes the test stack,
and every dashboard query and every alert expression (each operand of it, without its
threshold) must return series: a renamed metric or label breaks the build. An alert that
should fire (no live worker) fires within its `for`, shortened for the test.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from shared.tasks import HEARTBEAT_PREFIX
from tests.stack import make_user
from tools.stack.processes import (
    REPO,
    free_port,
    prometheus_bin,
    start_gateway,
    start_prometheus,
    wait_for_port,
)

ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "bgremove.json"
RB = "/api/v1/image/remove-background"
FAKE_GPU_WORKER = f"{HEARTBEAT_PREFIX}monitoring-test-gpu:1"


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    # Grafana fills $__rate_interval in (at least four scrape intervals): a minute here.
    return [(p["title"], t["expr"].replace("$__rate_interval", "1m"))
            for p in panels for t in p["targets"]]


def _split_top(expr: str, words: tuple[str, ...]) -> list[str]:
    """expr split at the binary operators `words` outside parentheses and quotes."""
    parts, depth, start, i, quoted = [], 0, 0, 0, False
    while i < len(expr):
        ch = expr[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([{":
            depth += 1
        elif not quoted and ch in ")]}":
            depth -= 1
        elif not quoted and depth == 0:
            word = next((w for w in words if expr.startswith(w, i)), None)
            if word:
                parts.append(expr[start:i])
                start = i = i + len(word)
                continue
        i += 1
    return [p.strip() for p in [*parts, expr[start:]]]


def signals(expr: str) -> list[str]:
    """The operands of an alert expression, each without its comparison to a number."""
    out = []
    for part in _split_top(expr, (" and ", " unless ", " or ")):
        match = re.fullmatch(r"(.*?)\s*(?:>=|<=|==|!=|>|<)\s*(?:bool\s+)?[-+0-9.e]+", part, re.S)
        out.append(match.group(1) if match else part)
    return out


def test_signals_split_at_the_top_level_only():
    assert signals('a{x=~"p|q"} == 0 and max by (q) (b) > 0') == ['a{x=~"p|q"}',
                                                                   "max by (q) (b)"]
    assert signals("(x or vector(0)) / y > 0.05") == ["(x or vector(0)) / y"]


# -- promtool ---------------------------------------------------------------------------------
def test_promtool_checks_the_rules_and_the_example_config():
    for args in (["check", "rules", str(ALERTS)],
                 ["check", "config", str(ALERTS.parent / "prometheus.yml")]):
        proc = subprocess.run([prometheus_bin("promtool"), *args], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_threshold_for_severity_and_runbook():
    names = [r["alert"] for r in rules()]
    assert len(names) == len(set(names)) >= 10
    for rule in rules():
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["runbook"], rule["alert"]
        assert re.search(r"(?:>|<|==|!=)\s*[0-9.]+\s*$", rule["expr"]), rule["alert"]


# -- a real Prometheus ------------------------------------------------------------------------
class Prom:
    """A running Prometheus and its HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict]:
        resp = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = resp.json()
        assert resp.status_code == 200 and body["status"] == "success", (expr, body)
        return body["data"]["result"]

    def alerts(self) -> dict[str, list[dict]]:
        body = requests.get(f"{self.url}/api/v1/alerts", timeout=10).json()
        out: dict[str, list[dict]] = {}
        for alert in body["data"]["alerts"]:
            out.setdefault(alert["labels"]["alertname"], []).append(alert)
        return out

    def wait(self, expr: str, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


def write_config(root: Path, targets: dict[str, str], rules_text: str) -> Path:
    """A config scraping each job's target every second, with rules evaluated every second."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "alerts.yml").write_text(rules_text)
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                         "scrape_timeout": "1s"},
              "rule_files": ["alerts.yml"],
              "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                                 for job, target in targets.items()]}
    path = root / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def traffic(gateway_url, rt, images) -> Iterator[None]:
    """A success and a failure through the real gateway and worker, and a worker of a GPU
    queue that runs on the CPU (its heartbeat: what the gateway reads workers from)."""
    from tests.integration.test_metrics import jpeg

    user = make_user(rt, credits=5)
    token = requests.post(f"{gateway_url}/api/token", json={"key": user["api_key"]},
                          timeout=10).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    ok = requests.post(f"{gateway_url}{RB}", headers=auth, timeout=90,
                       json={"input_image": images.add("monitoring.jpg", jpeg(7))})
    assert ok.status_code == 200, ok.text
    missing = requests.post(f"{gateway_url}{RB}", headers=auth, timeout=90,
                            json={"input_image": f"http://127.0.0.1:{images.port}/nothing.jpg"})
    assert missing.status_code == 502, missing.text
    rt.redis.set(FAKE_GPU_WORKER, json.dumps({
        "hostname": "monitoring-test-gpu", "pid": 1, "queue": "segment-gpu", "model": "u2netp",
        "providers": ["CPUExecutionProvider"]}), ex=300)
    yield
    rt.redis.delete(FAKE_GPU_WORKER)


@pytest.fixture(scope="module")
def prom(tmp_path_factory, gateway_url, worker_metrics_port, services, traffic) -> Iterator[Prom]:
    root = tmp_path_factory.mktemp("prometheus")
    gateway = gateway_url.removeprefix("http://")
    config = write_config(root, {"bgremove-gateway": gateway,
                                 "bgremove-worker": f"127.0.0.1:{worker_metrics_port}"},
                          ALERTS.read_text())
    port = free_port()
    managed = start_prometheus(config, port, root / "data", services.log_dir)
    prom = Prom(f"http://127.0.0.1:{port}")
    try:
        # Both targets up, and enough scrapes for rate() over a minute to have two points.
        assert prom.wait('count(up{job=~"bgremove-.*"} == 1) == 2'), prom.query("up")
        assert prom.wait('min(count_over_time(up{job=~"bgremove-.*"}[1m])) >= 4')
        yield prom
    finally:
        managed.stop()


@pytest.mark.parametrize(("title", "expr"), dashboard_queries())
def test_every_dashboard_query_returns_series(prom, title, expr):
    assert prom.query(expr), f"panel {title!r}: no series for {expr}"


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_every_alert_expression_returns_series(prom, rule):
    prom.query(rule["expr"])  # the whole expression is valid PromQL
    for signal in signals(rule["expr"]):
        assert prom.query(signal), f"{rule['alert']}: no series for {signal}"


def test_alerts_see_the_stack_as_it_is(prom):
    # A CPU worker on a GPU queue is seen (pending until its `for` passes) ...
    assert prom.wait('ALERTS{alertname="BgremoveGpuPoolOnCpu",queue="segment-gpu"}', 15)
    # ... while the healthy stack raises no page for workers or dependencies.
    alerts = prom.alerts()
    for name in ("BgremoveNoLiveWorker", "BgremoveNotReady", "BgremoveTargetDown"):
        assert name not in alerts, alerts[name]


def test_no_live_worker_fires_within_its_for(tmp_path, stack_env, services):
    """A gateway whose Redis has no worker heartbeat: the alert is pending, then fires once
    its `for` (shortened to 3 s, evaluated every second) has passed."""
    env = {**stack_env, "REDIS_URL": stack_env["REDIS_URL"].rsplit("/", 1)[0] + "/9"}
    gw_port, prom_port = free_port(), free_port()
    gateway = start_gateway(env, gw_port, services.log_dir)
    shortened = re.sub(r"for: \d+m", "for: 3s", ALERTS.read_text())
    config = write_config(tmp_path, {"bgremove-gateway": f"127.0.0.1:{gw_port}"}, shortened)
    managed = None
    try:
        wait_for_port(gw_port, gateway.proc, "gateway")
        managed = start_prometheus(config, prom_port, tmp_path / "data", services.log_dir,
                                   name="prometheus-alerting")
        prom = Prom(f"http://127.0.0.1:{prom_port}")
        started = time.monotonic()
        states: list[tuple[float, str]] = []
        while time.monotonic() - started < 45:
            for alert in prom.alerts().get("BgremoveNoLiveWorker", []):
                states.append((time.monotonic() - started, alert["state"]))
            if states and states[-1][1] == "firing":
                break
            time.sleep(0.25)
        assert states and states[-1][1] == "firing", states
        assert states[0][1] == "pending", states  # it waited for its `for` ...
        first_pending = states[0][0]
        fired = states[-1][0]
        assert fired - first_pending >= 2, states  # ... about 3 s (1 s evaluation steps)
        assert fired < 30, states
        labels = prom.alerts()["BgremoveNoLiveWorker"][0]["labels"]
        assert labels["severity"] == "critical"
        assert "BgremoveNotReady" in prom.alerts()  # /readyz's `workers` is down as well
    finally:
        if managed is not None:
            managed.stop()
        gateway.stop()
