"""A held request keeps no copy of its body while it waits (gateway/forms.release_body)."""

from __future__ import annotations

import base64
import io

from flask import Flask, request

from gateway import forms

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64  # 16 KiB that pass the magic check


def test_json_base64_body_and_its_upload_are_dropped():
    app = Flask(__name__)
    body = {"input_image_base64": base64.b64encode(IMAGE).decode()}
    with app.test_request_context("/", method="POST", json=body):
        fields, _ = forms.read_body()
        upload = forms.Upload("image", io.BytesIO(IMAGE), len(IMAGE), "image/png")
        assert len(request.get_data()) > len(IMAGE)  # cached by Werkzeug until released
        forms.release_body([upload])
        assert upload.stream.closed
        assert request.get_data() == b""
        assert request.get_json(silent=True) is None


def test_multipart_upload_is_closed_and_the_parsed_form_dropped():
    app = Flask(__name__)
    data = {"input_image": (io.BytesIO(IMAGE), "a.png", "image/png"), "size": "auto"}
    with app.test_request_context("/", method="POST", data=data,
                                  content_type="multipart/form-data"):
        _, files = forms.read_body()
        part = files["input_image"]
        upload = forms.file_upload(part, "image", _Settings())
        forms.release_body([upload])
        assert part.stream.closed
        assert "files" not in request.__dict__ and "form" not in request.__dict__


def test_chunked_body_buffer_is_replaced():
    app = Flask(__name__)
    with app.test_request_context("/", method="POST", json={"input_image": "http://x/a.jpg"}):
        request.environ["wsgi.input"] = io.BytesIO(b"x" * 100_000)
        forms.release_body([])
        assert request.environ["wsgi.input"].getbuffer().nbytes == 0


class _Settings:
    upload_max_bytes = 1 << 20
