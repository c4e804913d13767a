"""One rembg session per worker process: loaded once, from local weights, never downloaded."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from shared import metrics
from shared.config import Settings

log = logging.getLogger("worker.models")

_SESSION: Any = None
_INFO: dict[str, Any] = {}


class ModelUnavailable(RuntimeError):
    """The configured model's weights are missing, or its execution provider is not active."""


def weights_path(settings: Settings) -> Path:
    """Where rembg looks for the model's weights ($U2NET_HOME/<model>.onnx)."""
    return Path(settings.u2net_home) / f"{settings.model_name}.onnx"


def get_session(settings: Settings) -> Any:
    """The process's rembg session, created on first call."""
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    path = weights_path(settings)
    if not path.is_file():
        # rembg would try to download here; the service never downloads anything.
        raise ModelUnavailable(f"model weights missing: {path} (run `make setup` or copy the "
                               f"{settings.model_name}.onnx file into U2NET_HOME)")
    os.environ["U2NET_HOME"] = settings.u2net_home
    started = time.perf_counter()
    import onnxruntime as ort
    from rembg import new_session

    providers = [p.strip() for p in settings.ort_providers.split(",") if p.strip()]
    options = ort.SessionOptions()
    if settings.ort_intra_op_threads:
        options.intra_op_num_threads = settings.ort_intra_op_threads
    session = new_session(settings.model_name, providers=providers, sess_opts=options)
    active = session.inner_session.get_providers()
    if providers and providers[0] not in active:
        raise ModelUnavailable(f"execution provider {providers[0]} is not active "
                               f"(active: {active})")
    _INFO.update(model=settings.model_name, providers=active,
                 load_seconds=round(time.perf_counter() - started, 3))
    # The first active provider is the one running the model (the rest are fallbacks).
    metrics.model_loaded(settings.model_name, active[0] if active else "none",
                         _INFO["load_seconds"])
    log.info("model loaded", extra={"model": settings.model_name, "providers": active,
                                    "load_seconds": _INFO["load_seconds"]})
    _SESSION = session
    return session


def check_startup(settings: Settings) -> dict[str, Any]:
    """Refuse to run a worker that would not do what it is configured for.

    Weights must be present, and the first configured execution provider must be available
    and active in a real session: a worker set up for CUDA that would silently run on the CPU
    (onnxruntime only warns) is a misconfiguration, not a fallback.
    """
    import onnxruntime as ort

    wanted = [p.strip() for p in settings.ort_providers.split(",") if p.strip()]
    available = ort.get_available_providers()
    if wanted and wanted[0] not in available:
        raise ModelUnavailable(f"execution provider {wanted[0]} is not available in this "
                               f"onnxruntime build (available: {available})")
    global _SESSION
    get_session(settings)  # loads the weights and checks the provider is active
    info = session_info()
    # Drop it: an onnxruntime session must not cross a fork (its thread pool stays behind);
    # each pool child loads its own.
    _SESSION = None
    _INFO.clear()
    return info


def session_info() -> dict[str, Any]:
    """Model name, active providers and load time of this process's session (empty before)."""
    return dict(_INFO)
