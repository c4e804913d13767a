"""What the web pages read besides the seed's API: X-Job-Id, a job's stage timings, its output
through the gateway (owner only) and the charge of each listed job."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.integration.test_remove_background import jpeg
from tests.security.util import assert_error, auth
from tests.stack import get_token, make_job, make_user

ENDPOINT = "/api/v1/image/remove-background"


@pytest.fixture(scope="module")
def chelsea() -> bytes:
    from skimage import data as skdata

    return jpeg(skdata.chelsea())  # 451x300


def upload(client, token: str, image: bytes, **fields: str):
    return client.post(ENDPOINT, data={"input_image": (io.BytesIO(image), "cat.jpg"), **fields},
                       content_type="multipart/form-data", headers=auth(token))


def test_job_id_timings_and_output_through_the_gateway(client, rt, worker, chelsea):
    user = make_user(rt, credits=2)
    token = get_token(client, user["api_key"])
    resp = upload(client, token, chelsea, output_format="webp")
    assert resp.status_code == 200, resp.get_json()
    job_id = resp.headers["X-Job-Id"]
    assert set(resp.get_json()) == {"success", "message", "data", "credits_remaining"}

    job = client.get(f"/api/v1/jobs/{job_id}", headers=auth(token)).get_json()
    assert job["status"] == "succeeded"
    assert "segment" in job["timings"]
    assert all(isinstance(v, float) and v >= 0 for v in job["timings"].values())

    out = client.get(f"/api/v1/jobs/{job_id}/output", headers=auth(token))
    assert out.status_code == 200
    assert out.mimetype == "image/webp" and "private" in out.headers["Cache-Control"]
    assert out.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(out.data))
    assert image.size == (451, 300) and image.mode == "RGBA"
    # The same bytes as the object the seed's output_image URL points at.
    assert out.data == rt.storage.get(rt.db.one("get_job", job_id=job_id)["output_key"])[0]

    listed = client.get("/api/v1/jobs", headers=auth(token)).get_json()["data"]
    assert [(j["job_id"], j["credits_charged"]) for j in listed] == [(job_id, 1)]


def test_output_is_the_owners_only_and_only_once_done(client, rt):
    owner, other = make_user(rt, credits=3), make_user(rt, credits=1)
    done = make_job(rt, owner)  # committed, but its output object was never written
    failed = make_job(rt, owner, "failed")
    queued = make_job(rt, owner, "queued")
    owner_token, other_token = (get_token(client, u["api_key"]) for u in (owner, other))
    assert_error(client.get(f"/api/v1/jobs/{done}/output", headers=auth(other_token)), 404,
                 "job_not_found")
    assert_error(client.get("/api/v1/jobs/not-a-uuid/output", headers=auth(owner_token)), 404,
                 "job_not_found")
    for job_id in (failed, queued):
        body = assert_error(client.get(f"/api/v1/jobs/{job_id}/output",
                                       headers=auth(owner_token)), 404, "not_found")
        assert "no output" in body["message"]
    body = assert_error(client.get(f"/api/v1/jobs/{done}/output", headers=auth(owner_token)),
                        404, "not_found")
    assert "no longer kept" in body["message"]
    assert client.get(f"/api/v1/jobs/{done}/output").status_code == 401
    charges = {j["job_id"]: j["credits_charged"] for j in
               client.get("/api/v1/jobs", headers=auth(owner_token)).get_json()["data"]}
    assert charges == {done: 1, failed: 0, queued: 0}
