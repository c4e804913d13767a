"""Idempotency-Key: a retry returns the first result and is charged once."""

from __future__ import annotations

import threading

from tests.reliability.test_faults import small_jpeg
from tests.stack import get_token, make_user


def post(client, token, body, key=None):
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/image/remove-background", json=body, headers=headers)


def charges(rt, user_id) -> int:
    return sum(1 for job in rt.db.all("recent_jobs", user_id=user_id, limit=100)
               for row in rt.db.all("ledger_for_job", job_id=job["id"])
               if row["kind"] == "charge")


def test_retry_with_the_same_key_replays_and_charges_once(client, rt, images, worker):
    url = images.add("idem.jpg", small_jpeg(10))
    u = make_user(rt, credits=5)
    token = get_token(client, u["api_key"])
    first = post(client, token, {"input_image": url}, key="order-42")
    again = post(client, token, {"input_image": url, "output_format": "png"}, key="order-42")
    assert first.status_code == again.status_code == 200, (first.get_json(), again.get_json())
    a, b = first.get_json(), again.get_json()
    assert a["data"]["output_image"].split("?")[0] == b["data"]["output_image"].split("?")[0]
    assert a["credits_remaining"] == b["credits_remaining"] == 4
    assert len(rt.db.all("recent_jobs", user_id=u["user_id"], limit=10)) == 1
    assert charges(rt, u["user_id"]) == 1
    assert rt.credits.balance(u["user_id"]) == 4
    # Without the key, the same body is a new job.
    assert post(client, token, {"input_image": url}).get_json()["credits_remaining"] == 3


def test_same_key_different_body_is_422_and_free(client, rt, images, worker):
    url = images.add("idem2.jpg", small_jpeg(11))
    u = make_user(rt, credits=3)
    token = get_token(client, u["api_key"])
    assert post(client, token, {"input_image": url}, key="k-1").status_code == 200
    resp = post(client, token, {"input_image": url, "bg_color": "#000"}, key="k-1")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "idempotency_key_mismatch"
    assert rt.credits.balance(u["user_id"]) == 2
    assert len(rt.db.all("recent_jobs", user_id=u["user_id"], limit=10)) == 1


def test_keys_are_per_user_and_concurrent_retries_reserve_once(client, rt, images, worker):
    url = images.add("idem3.jpg", small_jpeg(12))
    u, other = make_user(rt, credits=3), make_user(rt, credits=3)
    token, other_token = get_token(client, u["api_key"]), get_token(client, other["api_key"])
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        post(client, token, {"input_image": url}, key="same"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [r.status_code for r in results] == [200] * 4
    assert {r.get_json()["credits_remaining"] for r in results} == {2}
    assert charges(rt, u["user_id"]) == 1
    assert post(client, other_token, {"input_image": url}, key="same").status_code == 200
    assert rt.credits.balance(other["user_id"]) == 2


def test_failed_first_attempt_is_replayed_as_the_same_error(client, rt, images, worker):
    url = images.add("idem-bad.jpg", b"<html>not an image</html>", "text/html")
    u = make_user(rt, credits=2)
    token = get_token(client, u["api_key"])
    first = post(client, token, {"input_image": url}, key="bad-1")
    again = post(client, token, {"input_image": url}, key="bad-1")
    assert first.status_code == again.status_code == 422
    assert again.get_json()["error"]["code"] == "invalid_image"
    assert rt.credits.balance(u["user_id"]) == 2


def test_malformed_key_is_400(client, rt):
    u = make_user(rt, credits=1)
    resp = post(client, get_token(client, u["api_key"]),
                {"input_image": "https://example.com/a.jpg"}, key="x" * 256)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == {"code": "invalid_parameter", "param": "Idempotency-Key"}
    assert rt.credits.balance(u["user_id"]) == 1
