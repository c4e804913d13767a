"""One model session per worker process: loaded once, from md5-pinned local weights.

The worker never downloads anything: weights are installed by `make setup` (or baked into the
image) under U2NET_HOME, and a file whose hash differs from shared.models' pin is refused.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

from shared import metrics
from shared.config import Settings
from shared.models import ModelSpec, pin_digest
from worker import cpu
from worker.batching import MicroBatcher
from worker.inference import ProbabilityModel, Segmenter
from worker.precision import Choice, Int8Refused, decide, measure

log = logging.getLogger("worker.sessions")

_SEGMENTER: ProbabilityModel | None = None
# The precision served per (model, MODEL_PRECISION, U2NET_HOME): chosen once by check_startup
# in the main process before the pool forks (children inherit it), or on a process's first
# load where no check ran. A worker serves one model; tools and tests load several.
_CHOICES: dict[tuple[str, str, str], Choice] = {}
_LOADING = threading.Lock()
_INFO: dict[str, Any] = {}
_VERIFIED: set[tuple[str, float]] = set()


class ModelUnavailable(RuntimeError):
    """The configured model's weights are missing or altered, or its provider is not active."""


def verify_weights(path: Path, spec: ModelSpec, md5: str | None = None) -> None:
    """Refuse a missing file or one whose md5 differs from the pin (once per file version)."""
    md5 = md5 or spec.md5
    if not path.is_file():
        raise ModelUnavailable(f"model weights missing: {path} (run `make setup` with "
                               f"MODELS={spec.name}, or copy {path.name} into U2NET_HOME)")
    stamp = (str(path), path.stat().st_mtime)
    if stamp in _VERIFIED:
        return
    got = pin_digest(path, md5)
    if got != md5:
        raise ModelUnavailable(f"model weights {path} have md5 {got}, not the "
                               f"pinned {md5}: refusing to load them")
    _VERIFIED.add(stamp)


def session_options(settings: Settings) -> Any:
    """onnxruntime's session options, each set to what measured best here (docs/models.md).

    u2netp, one thread, time relative to these settings (fp32 / int8, one run, alternating):
    graph optimisation EXTENDED 2.08 / 1.13, BASIC 1.99 / 3.05; memory arena off 1.61 /
    1.04; parallel execution with 2 inter-op threads 1.60 / 1.22.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    # ENABLE_ALL: on x86 it adds the NCHWc layout for fp32 convolutions and the fusions of
    # QDQ pairs into integer kernels for int8.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # U²-Net is one chain of convolutions: the parallel executor has no branches worth a
    # second thread, so inter-op stays sequential and threads go to the intra-op pool.
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if settings.ort_intra_op_threads:
        options.intra_op_num_threads = settings.ort_intra_op_threads
    # The arena keeps buffers between runs (RSS grows once to the peak; docs/benchmarks.md).
    options.enable_cpu_mem_arena = settings.ort_cpu_mem_arena
    return options


def provider_entry(name: str, settings: Settings) -> str | tuple[str, dict[str, str]]:
    """A provider for InferenceSession, with its options where ours differ from its defaults.

    OpenVINO's CPU plugin runs its own thread pool, sized by its num_of_threads option rather
    than by the session's intra-op setting; with one worker process per core it gets
    ORT_INTRA_OP_THREADS explicitly, so that two processes do not each take every core.
    """
    if name == "OpenVINOExecutionProvider":
        options = {"device_type": "CPU"}
        if settings.ort_intra_op_threads:
            options["num_of_threads"] = str(settings.ort_intra_op_threads)
        return name, options
    return name


def load_segmenter(settings: Settings, name: str, precision: str | None = None) -> Segmenter:
    """A fresh session for model `name` with the configured providers: the file of
    `precision`, or of MODEL_PRECISION when it names one (auto: see choose_precision)."""
    import onnxruntime as ort

    spec = settings.catalogue[name]
    precision = precision or settings.model_precision
    if precision == "auto":
        precision = choose_precision(dataclasses.replace(settings, model_name=name)).precision
    try:
        filename, md5 = spec.file_for(precision)
    except ValueError as exc:
        raise ModelUnavailable(str(exc)) from exc
    path = Path(settings.u2net_home) / filename
    verify_weights(path, spec, md5)
    providers = [p.strip() for p in settings.ort_providers.split(",") if p.strip()]
    available = ort.get_available_providers()
    if providers and providers[0] not in available:
        raise ModelUnavailable(f"execution provider {providers[0]} is not available in this "
                               f"onnxruntime build (available: {available})")
    session = ort.InferenceSession(str(path), sess_options=session_options(settings),
                                   providers=[provider_entry(p, settings) for p in providers]
                                   or None)
    active = session.get_providers()
    if providers and providers[0] not in active:
        raise ModelUnavailable(f"execution provider {providers[0]} is not active "
                               f"(active: {active})")
    return Segmenter(spec, session, precision)


def choose_precision(settings: Settings) -> Choice:
    """The precision this process serves MODEL_NAME at (worker/precision.py), decided once.

    fp32 needs no check; auto and int8 run both files on the check photos here, because int8's
    accuracy and speed depend on this CPU. An int8 that is not accurate here is refused.
    """
    key = (settings.model_name, settings.model_precision, settings.u2net_home)
    if key in _CHOICES:
        return _CHOICES[key]
    requested, spec = settings.model_precision, settings.model_spec
    check = None
    if requested != "fp32" and "int8" in spec.precisions:
        started = time.perf_counter()
        check = measure(load_segmenter(settings, spec.name, "fp32"),
                        load_segmenter(settings, spec.name, "int8"))
        log.info("precision self-check", extra={"model": spec.name, **check.as_dict(),
                                                "cpu": cpu.current().describe(),
                                                "seconds": round(time.perf_counter() - started,
                                                                 1)})
    try:
        _CHOICES[key] = decide(requested, check, cpu.current())
    except Int8Refused as exc:
        raise ModelUnavailable(str(exc)) from exc
    return _CHOICES[key]


def get_segmenter(settings: Settings) -> ProbabilityModel:
    """The process's segmenter for MODEL_NAME, created on first call.

    With MICRO_BATCH_SIZE > 1 it is wrapped in a MicroBatcher: the threads of a threads-pool
    worker then share batched inferences (worker/batching.py).
    """
    global _SEGMENTER
    if _SEGMENTER is not None:
        return _SEGMENTER
    with _LOADING:  # a threads-pool worker's first tasks arrive together: load once
        if _SEGMENTER is None:
            _SEGMENTER = _load(settings)
    return _SEGMENTER


def _load(settings: Settings) -> ProbabilityModel:
    choice = choose_precision(settings)
    started = time.perf_counter()
    segmenter = load_segmenter(settings, settings.model_name, choice.precision)
    active = segmenter.session.get_providers()
    _INFO.update(model=settings.model_name, precision=choice.precision,
                 precision_reason=choice.reason, providers=active,
                 load_seconds=round(time.perf_counter() - started, 3))
    # The first active provider is the one running the model (the rest are fallbacks).
    metrics.model_loaded(settings.model_name, active[0] if active else "none",
                         _INFO["load_seconds"], choice.precision, choice.reason)
    log.info("model loaded", extra={"model": settings.model_name, "providers": active,
                                    "precision": choice.precision,
                                    "precision_reason": choice.reason,
                                    "load_seconds": _INFO["load_seconds"]})
    if settings.micro_batch_size > 1:
        _INFO.update(micro_batch_size=settings.micro_batch_size)
        return MicroBatcher(segmenter, settings.micro_batch_size, settings.micro_batch_wait_ms)
    return segmenter


def check_startup(settings: Settings) -> dict[str, Any]:
    """Refuse to run a worker that would not do what it is configured for.

    Weights must be present and unaltered, and the first configured execution provider must
    be available and active in a real session: a worker set up for CUDA that would silently
    run on the CPU (onnxruntime only warns) is a misconfiguration, not a fallback. Runs the
    precision self-check here, once per node: the pool children inherit its choice.
    """
    import onnxruntime as ort

    wanted = [p.strip() for p in settings.ort_providers.split(",") if p.strip()]
    available = ort.get_available_providers()
    if wanted and wanted[0] not in available:
        raise ModelUnavailable(f"execution provider {wanted[0]} is not available in this "
                               f"onnxruntime build (available: {available})")
    global _SEGMENTER
    get_segmenter(settings)  # chooses the precision, loads its weights, checks the provider
    info = {**session_info(), "cpu": cpu.current().as_dict()}
    # Drop it: an onnxruntime session must not cross a fork (its thread pool stays behind);
    # each pool child loads its own.
    _SEGMENTER = None
    _INFO.clear()
    return info


def session_info() -> dict[str, Any]:
    """Model name, active providers and load time of this process's session (empty before)."""
    return dict(_INFO)
