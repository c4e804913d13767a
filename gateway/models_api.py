"""GET /api/v1/models: what this deployment serves, from the catalogue and live heartbeats."""

from __future__ import annotations

from gateway import health
from gateway.catalogue_models import ServedModel, ServedModels
from gateway.context import runtime
from gateway.contract import Routes
from gateway.guards import BEARER

routes = Routes("models", __name__, "/api/v1", tag="images", guard=BEARER, rate_limited=True)
bp = routes.bp


@routes.get("/models", answer=ServedModels, op="listModels")
def models() -> ServedModels:
    """The models a request may choose

    Each model this gateway accepts in `model` (MODELS, and MODEL_NAME, the default), with its
    family, input side, licence, and the worker processes live for it now, with the precision
    each runs. A model with no live worker is still listed: its requests wait in its queue.
    """
    rt = runtime()
    settings = rt.settings
    _, workers = health.check(rt)
    served = []
    for name in settings.served_models:
        spec = settings.catalogue[name]
        mine = [w for w in workers if w.get("model") == name]
        served.append(ServedModel(
            name=name, family=spec.family, input_size=spec.input_size, licence=spec.licence,
            gate=spec.gate, default=name == settings.model_name, live_workers=len(mine),
            precisions=sorted({w["precision"] for w in mine if w.get("precision")})))
    return ServedModels(success=True, default_model=settings.model_name, models=served)
