"""Every Prometheus metric of gateway and workers, and how a process exposes them.

Import this only after the process has decided on multiprocess mode (shared.multiproc): the
first import of prometheus_client fixes it. Both sides import the same definitions, so a name
means one thing everywhere; a side simply leaves the other side's metrics without samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from shared import memory

# Requests wait for the image up to REQUEST_TIMEOUT_SECONDS (60 s by default).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
                60.0, 90.0)
# From a few ms (decode, composite) to a slow fetch or a big image on CPU (hard limit 150 s).
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0,
                 80.0, 150.0)

STAGES = ("fetch", "decode", "segment", "composite", "encode", "upload")
CREDIT_OPS = ("reserve", "commit", "refund", "replay")

# -- gateway ----------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "bgremove_http_requests", "HTTP requests answered, by route (URL rule), method and status.",
    ["route", "method", "status"])
HTTP_REQUEST_SECONDS = Histogram(
    "bgremove_http_request_seconds", "Time to answer an HTTP request, by route, method, status.",
    ["route", "method", "status"], buckets=HTTP_BUCKETS)
# livesum: the gauges of a gunicorn worker that died are dropped (child_exit), not summed.
REQUESTS_WAITING = Gauge(
    "bgremove_requests_waiting",
    "Remove-background requests in flight: nearly all of that time is the wait for a worker.",
    multiprocess_mode="livesum")
# Admission (gateway/admission.py): requests held now, and the limit past which it refuses.
REQUESTS_INFLIGHT = Gauge(
    "bgremove_requests_inflight", "Requests a gateway process holds now (admitted, unanswered).",
    multiprocess_mode="livesum")
INFLIGHT_LIMIT = Gauge(
    "bgremove_requests_inflight_limit",
    "Requests the gateway holds at most (GATEWAY_MAX_INFLIGHT per process, summed).",
    multiprocess_mode="livesum")
QUEUE_MAX_DEPTH = Gauge(
    "bgremove_queue_max_depth", "QUEUE_MAX_DEPTH: past it a queue takes no new job (503).",
    multiprocess_mode="livemax")
ADMISSION_REFUSED = Counter(
    "bgremove_admission_refused", "Requests answered 503 overloaded at the gateway's limit.")
SLOW_CLIENTS = Counter(
    "bgremove_slow_clients", "Connections cut with 408: headers or body slower than allowed.",
    ["phase"])
CREDIT_OPERATIONS = Counter(
    "bgremove_credit_operations",
    "Credit operations: reserve and replay (gateway), commit and refund (workers, gateway).",
    ["op"])

# -- workers ----------------------------------------------------------------------------------
TASK_STAGE_SECONDS = Histogram(
    "bgremove_task_stage_seconds", "Time spent in each stage of a remove-background task.",
    ["stage"], buckets=STAGE_BUCKETS)
TASKS = Counter(
    "bgremove_tasks", "Remove-background tasks finished: succeeded, failed, or skipped "
    "(the job was already closed: a redelivery).", ["status"])
TASK_FAILURES = Counter(
    "bgremove_task_failures", "Failed remove-background tasks by error code.", ["code"])
# mostrecent: pool children reload the model when recycled; the latest load time counts.
MODEL_LOAD_SECONDS = Gauge(
    "bgremove_model_load_seconds", "Seconds the last model load took (rembg session).",
    ["model"], multiprocess_mode="mostrecent")
MODEL_INFO = Gauge(
    "bgremove_model_info", "1 for the model, the execution provider and the precision in use "
    "(reason: why this precision, from the worker's self-check).",
    ["model", "provider", "precision", "reason"], multiprocess_mode="max")

# livesum: the pool's resident memory is the sum over its live children (the model is loaded
# in each child after the fork, so little is shared); livemax: any live child's reading.
WORKER_RSS_BYTES = Gauge(
    "bgremove_worker_rss_bytes", "Resident memory of the worker's pool processes, summed "
    "(read after each task and model load).", multiprocess_mode="livesum")
WORKER_MEMORY_LIMIT_BYTES = Gauge(
    "bgremove_worker_memory_limit_bytes", "Memory the worker may use: its cgroup (container) "
    "limit, or the machine's memory.", multiprocess_mode="livemax")

for _op in CREDIT_OPS:  # present as 0 from the start, so rate() sees the first increment
    CREDIT_OPERATIONS.labels(op=_op)
# The one failure code that is always ours (a bug or a bad model), alerted on from its first.
TASK_FAILURES.labels(code="processing_failed")


def _sample_memory() -> None:
    WORKER_RSS_BYTES.set(memory.rss_bytes())
    WORKER_MEMORY_LIMIT_BYTES.set(memory.limit_bytes())


def count_credit_op(op: str) -> None:
    """One credit operation (see CREDIT_OPS)."""
    CREDIT_OPERATIONS.labels(op=op).inc()


def observe_task(status: str, timings: Mapping[str, float], error_code: str | None = None,
                 ) -> None:
    """A finished task: its outcome, its failure code, and the seconds of each stage it ran."""
    TASKS.labels(status=status).inc()
    if error_code is not None:
        TASK_FAILURES.labels(code=error_code).inc()
    for stage, seconds in timings.items():
        if stage in STAGES:
            TASK_STAGE_SECONDS.labels(stage=stage).observe(seconds)
    _sample_memory()


def model_loaded(model: str, provider: str, seconds: float, precision: str = "fp32",
                 reason: str = "") -> None:
    """The process loaded `model`, running on `provider` at `precision` (for `reason`)."""
    MODEL_LOAD_SECONDS.labels(model=model).set(seconds)
    MODEL_INFO.labels(model=model, provider=provider, precision=precision, reason=reason).set(1)
    _sample_memory()


# -- exposition -------------------------------------------------------------------------------
def multiprocess_mode() -> bool:
    """Whether this process writes its metrics to PROMETHEUS_MULTIPROC_DIR's files."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class _Chain(Collector):
    """Several collectors read as one registry (generate_latest only needs collect())."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self._collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


def registry() -> Collector:
    """What a scrape reads: every process's files in multiprocess mode, else this process."""
    if multiprocess_mode():
        # A fresh registry per scrape, as prometheus_client documents: the collector reads
        # the files as they are now, including those of processes started since.
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return merged
    return REGISTRY


def exposition(*extra: Collector) -> tuple[bytes, str]:
    """The text exposition of registry() plus `extra` collectors, and its content type."""
    return generate_latest(_Chain([registry(), *extra])), CONTENT_TYPE_LATEST
