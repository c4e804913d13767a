"""Output URLs: presigned by default, or public-read under a base URL; both fetchable."""

from __future__ import annotations

import dataclasses

import requests

from shared.storage import Storage, output_key


def test_presigned_url_is_fetchable_and_the_bare_object_is_not(settings):
    storage = Storage(settings)
    key = output_key("11111111-2222-3333-4444-555555555555", "png")
    storage.put(key, b"\x89PNG fake", "image/png")
    url = storage.url(key)
    assert "X-Amz-Signature=" in url
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200 and resp.content == b"\x89PNG fake"
    assert resp.headers["Content-Type"] == "image/png"
    bare = url.split("?")[0]
    assert requests.get(bare, timeout=10).status_code in (401, 403)


def test_public_base_url_mode(settings):
    base = f"http://{settings.s3_endpoint}/public-outputs"
    public = dataclasses.replace(settings, s3_bucket="public-outputs", s3_public_base_url=base)
    storage = Storage(public)
    storage.ensure_bucket()
    key = output_key("aaaaaaaa-2222-3333-4444-555555555555", "webp")
    storage.put(key, b"RIFF....WEBP", "image/webp")
    url = storage.url(key)
    assert url == f"{base}/{key}"
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200 and resp.content == b"RIFF....WEBP"
    storage.delete(key)
    assert not storage.exists(key)
