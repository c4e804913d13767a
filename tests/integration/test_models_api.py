"""GET /api/v1/models: the served models with their family, side, licence and live workers."""

from __future__ import annotations

from gateway.catalogue_models import ServedModels
from tests.stack import get_token, make_user, wait_for_heartbeat


def test_lists_the_served_models_with_their_live_workers(client, rt, worker):
    wait_for_heartbeat(rt)
    token = get_token(client, make_user(rt, credits=0)["api_key"])
    resp = client.get("/api/v1/models", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    ServedModels.model_validate(body)  # what the OpenAPI document says it is
    assert body["default_model"] == "u2netp"
    models = {m["name"]: m for m in body["models"]}
    assert list(models) == ["u2netp", "u2net"]  # MODEL_NAME first, then MODELS
    small, big = models["u2netp"], models["u2net"]
    assert small["default"] and not big["default"]
    assert (small["family"], small["input_size"], small["licence"]) == ("u2net", 320,
                                                                        "Apache-2.0")
    assert small["live_workers"] >= 1 and small["precisions"][0] in ("fp32", "int8")
    # The session's worker serves u2netp only: u2net is listed, with nobody serving it.
    assert big["live_workers"] == 0 and big["precisions"] == []


def test_needs_a_token(client):
    resp = client.get("/api/v1/models")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
