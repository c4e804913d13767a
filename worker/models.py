"""One model session per worker process: loaded once, from md5-pinned local weights.

The worker never downloads anything: weights are installed by `make setup` (or baked into the
image) under U2NET_HOME, and a file whose hash differs from shared.models' pin is refused.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from shared import metrics
from shared.config import Settings
from shared.models import MODELS, ModelSpec, md5_of
from worker.inference import Segmenter

log = logging.getLogger("worker.models")

_SEGMENTER: Segmenter | None = None
_INFO: dict[str, Any] = {}
_VERIFIED: set[tuple[str, float]] = set()


class ModelUnavailable(RuntimeError):
    """The configured model's weights are missing or altered, or its provider is not active."""


def weights_path(settings: Settings, spec: ModelSpec | None = None) -> Path:
    """Where the model's weights live ($U2NET_HOME/<file>)."""
    spec = spec or MODELS[settings.model_name]
    return Path(settings.u2net_home) / spec.filename


def verify_weights(path: Path, spec: ModelSpec) -> None:
    """Refuse a missing file or one whose md5 differs from the pin (once per file version)."""
    if not path.is_file():
        raise ModelUnavailable(f"model weights missing: {path} (run `make setup` with "
                               f"MODELS={spec.name}, or copy {spec.filename} into U2NET_HOME)")
    stamp = (str(path), path.stat().st_mtime)
    if stamp in _VERIFIED:
        return
    got = md5_of(path)
    if got != spec.md5:
        raise ModelUnavailable(f"model weights {path} have md5 {got}, not the "
                               f"pinned {spec.md5}: refusing to load them")
    _VERIFIED.add(stamp)


def load_segmenter(settings: Settings, name: str) -> Segmenter:
    """A fresh session for model `name` with the configured providers and threads."""
    import onnxruntime as ort

    spec = MODELS[name]
    path = weights_path(settings, spec)
    verify_weights(path, spec)
    providers = [p.strip() for p in settings.ort_providers.split(",") if p.strip()]
    options = ort.SessionOptions()
    if settings.ort_intra_op_threads:
        options.intra_op_num_threads = settings.ort_intra_op_threads
    session = ort.InferenceSession(str(path), sess_options=options,
                                   providers=providers or None)
    active = session.get_providers()
    if providers and providers[0] not in active:
        raise ModelUnavailable(f"execution provider {providers[0]} is not active "
                               f"(active: {active})")
    return Segmenter(spec, session)


def get_segmenter(settings: Settings) -> Segmenter:
    """The process's segmenter for MODEL_NAME, created on first call."""
    global _SEGMENTER
    if _SEGMENTER is not None:
        return _SEGMENTER
    started = time.perf_counter()
    segmenter = load_segmenter(settings, settings.model_name)
    active = segmenter.session.get_providers()
    _INFO.update(model=settings.model_name, providers=active,
                 load_seconds=round(time.perf_counter() - started, 3))
    # The first active provider is the one running the model (the rest are fallbacks).
    metrics.model_loaded(settings.model_name, active[0] if active else "none",
                         _INFO["load_seconds"])
    log.info("model loaded", extra={"model": settings.model_name, "providers": active,
                                    "load_seconds": _INFO["load_seconds"]})
    _SEGMENTER = segmenter
    return segmenter


def check_startup(settings: Settings) -> dict[str, Any]:
    """Refuse to run a worker that would not do what it is configured for.

    Weights must be present and unaltered, and the first configured execution provider must
    be available and active in a real session: a worker set up for CUDA that would silently
    run on the CPU (onnxruntime only warns) is a misconfiguration, not a fallback.
    """
    import onnxruntime as ort

    wanted = [p.strip() for p in settings.ort_providers.split(",") if p.strip()]
    available = ort.get_available_providers()
    if wanted and wanted[0] not in available:
        raise ModelUnavailable(f"execution provider {wanted[0]} is not available in this "
                               f"onnxruntime build (available: {available})")
    global _SEGMENTER
    get_segmenter(settings)  # loads the weights and checks the provider is active
    info = session_info()
    # Drop it: an onnxruntime session must not cross a fork (its thread pool stays behind);
    # each pool child loads its own.
    _SEGMENTER = None
    _INFO.clear()
    return info


def session_info() -> dict[str, Any]:
    """Model name, active providers and load time of this process's session (empty before)."""
    return dict(_INFO)
