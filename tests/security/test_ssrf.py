"""SSRF through the real API and real workers: every trick is refused before any connection.

Two workers take part (see conftest.py): the stack's worker allows 127.0.0.0/8 (images are
served from 127.0.0.1), the strict one allows only 127.0.0.2/32. Targets outside the stack
worker's allow-list ([::1], 0.0.0.0, private and link-local ranges, IPv4-mapped forms of
them, credentials, other schemes) go to the stack worker; 127.0.0.1 itself, its other
spellings and names, and redirects to it go to the strict worker.

An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as the IPv4 address it maps to, since a
dual-stack socket connects there: [::ffff:127.0.0.1] is allowed exactly when 127.0.0.1 is.

"No connection": a Recorder listens on 127.0.0.1 (and ::1) at the port the URL names and
records every accepted connection; 0.0.0.0 and [::] reach those listeners on Linux too. For
non-loopback targets nothing can listen; the proof there is the error code: only address
validation (before connecting) answers `input_url_forbidden`, connection failures answer
`input_unreachable`; and the fetch stage took well under the connect timeout.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from PIL import Image

from shared.config import Settings
from tests.security.conftest import STRICT_ALLOWED_HOST
from tests.security.util import (
    assert_balance,
    assert_charged_once,
    assert_error,
    assert_failed_and_refunded,
    assert_no_job,
    log_size,
    post_remove,
)
from tests.stack import get_token, make_user

pytestmark = pytest.mark.timeout(60)

CREDITS = 3
# Refused at validation, so the fetch stage is far below the 2 s connect timeout.
FETCH_REFUSAL_MAX_SECONDS = 1.0


def _png(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def rec4(recorder):
    return recorder("127.0.0.1")


@pytest.fixture()
def rec6(recorder):
    return recorder("::1")


def _refused(client, rt, url: str, *recorders) -> dict:
    """POST url; expect 502 input_url_forbidden, a refund, and no connection recorded."""
    user = make_user(rt, credits=CREDITS)
    resp = post_remove(client, get_token(client, user["api_key"]), input_image=url)
    body = assert_error(resp, 502, "input_url_forbidden")
    # The message must not echo what the host resolved to (that would map internal DNS).
    assert "127.0.0.1" not in body["message"] and "::1" not in body["message"]
    job = assert_failed_and_refunded(rt, user, CREDITS, "input_url_forbidden")
    assert job["timings"]["fetch"] < FETCH_REFUSAL_MAX_SECONDS, job["timings"]
    for rec in recorders:
        assert rec.accepted == [], f"{url} reached {rec.host}:{rec.port}"
    return body


# -- the stack worker (127.0.0.0/8 allowed) ----------------------------------------------------
NOT_ALLOWED = [
    # loopback and "this host" outside 127/8: these reach the recorders if ever connected
    "http://[::1]:{p6}/x.jpg",
    "http://[0:0:0:0:0:0:0:1]:{p6}/x.jpg",
    "http://[::]:{p6}/x.jpg",
    "http://0.0.0.0:{p4}/x.jpg",
    "http://0:{p4}/x.jpg",
    "http://0x0:{p4}/x.jpg",
    "http://00:{p4}/x.jpg",
    "http://[::ffff:0.0.0.0]:{p4}/x.jpg",
    # private, shared, link-local, metadata, multicast, reserved, broadcast
    "http://10.0.0.1:{p4}/x.jpg",
    "http://10.255.255.254:{p4}/x.jpg",
    "http://172.16.0.1:{p4}/x.jpg",
    "http://172.31.255.254:{p4}/x.jpg",
    "http://192.168.0.1:{p4}/x.jpg",
    "http://192.168.255.254:{p4}/x.jpg",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.169.254:{p4}/computeMetadata/v1/",
    "http://100.64.0.1:{p4}/x.jpg",
    "http://198.18.0.1:{p4}/x.jpg",
    "http://224.0.0.1:{p4}/x.jpg",
    "http://240.0.0.1:{p4}/x.jpg",
    "http://255.255.255.255:{p4}/x.jpg",
    "https://10.0.0.1:{p4}/x.jpg",
    # the same, spelled in decimal / hex / octal
    "http://167772161:{p4}/x.jpg",
    "http://0xa9fea9fe/latest/meta-data/",
    "http://2852039166/latest/meta-data/",
    "http://0251.0376.0251.0376/latest/meta-data/",
    "http://0xc0.0xa8.0.1:{p4}/x.jpg",
    # IPv6: unique-local, link-local, AWS's IPv6 metadata, multicast, and IPv4 carried inside
    "http://[fc00::1]:{p4}/x.jpg",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]:{p4}/x.jpg",
    "http://[ff02::1]:{p4}/x.jpg",
    "http://[::ffff:10.0.0.1]:{p4}/x.jpg",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://[::ffff:192.168.0.1]:{p4}/x.jpg",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "http://[2002:a9fe:a9fe::1]/latest/meta-data/",
    "http://[::127.0.0.1]:{p4}/x.jpg",
]


@pytest.mark.parametrize("template", NOT_ALLOWED)
def test_private_loopback_and_special_addresses_are_refused(client, rt, worker, rec4, rec6,
                                                            template):
    _refused(client, rt, template.format(p4=rec4.port, p6=rec6.port), rec4, rec6)


CREDENTIALS = [
    "http://user:pass@127.0.0.1:{p4}/x.jpg",
    "http://user@127.0.0.1:{p4}/x.jpg",
    "http://:@127.0.0.1:{p4}/x.jpg",
    "http://127.0.0.1:{p4}@127.0.0.1:{p4}/x.jpg",
    "http://evil.example@127.0.0.1:{p4}/x.jpg",
]


@pytest.mark.parametrize("template", CREDENTIALS)
def test_credentials_in_the_url_are_refused(client, rt, worker, rec4, template):
    # 127.0.0.1 is allowed for this worker: only the credentials check stands in the way.
    _refused(client, rt, template.format(p4=rec4.port), rec4)


SCHEMES = [
    "file:///etc/passwd",
    "file://127.0.0.1/etc/passwd",
    "gopher://127.0.0.1:{p4}/_GET%20/",
    "ftp://127.0.0.1:{p4}/x.jpg",
    "dict://127.0.0.1:{p4}/info",
    "ldap://127.0.0.1:{p4}/",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
    "javascript:alert(1)",
    "//127.0.0.1:{p4}/x.jpg",
    "127.0.0.1:{p4}/x.jpg",
    "http:///x.jpg",
    "http://",
]


@pytest.mark.parametrize("template", SCHEMES)
def test_other_schemes_are_refused_by_the_gateway(client, rt, rec4, template):
    user = make_user(rt, credits=CREDITS)
    resp = post_remove(client, get_token(client, user["api_key"]),
                       input_image=template.format(p4=rec4.port))
    body = assert_error(resp, 400, "invalid_parameter")
    assert body["error"]["param"] == "input_image"
    assert_no_job(rt, user)
    assert_balance(rt, user, CREDITS)
    assert rec4.accepted == []


def test_mapped_address_is_judged_as_its_ipv4_form(client, rt, worker, server):
    # The documented decision: [::ffff:127.0.0.1] is 127.0.0.1 (a dual-stack socket connects
    # there), so the stack worker, which allows 127.0.0.0/8, fetches it; the strict worker
    # refuses it (test_loopback_in_every_spelling_is_refused).
    srv = server("127.0.0.1")
    srv.add_bytes("/mapped.png", _png(), "image/png")
    user = make_user(rt, credits=CREDITS)
    resp = post_remove(client, get_token(client, user["api_key"]),
                       input_image=f"http://[::ffff:127.0.0.1]:{srv.port}/mapped.png")
    assert resp.status_code == 200, resp.get_json()
    assert srv.hits == ["/mapped.png"]
    assert_charged_once(rt, user, CREDITS)


def _own_ports(settings: Settings) -> dict[str, int]:
    return {"redis": urlsplit(settings.redis_url).port,
            "postgres": urlsplit(settings.database_url).port,
            "s3": int(settings.s3_endpoint.rsplit(":", 1)[1])}


@pytest.mark.parametrize("service", ["redis", "postgres", "s3"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_own_services_refused_even_inside_the_allow_list(client, rt, settings, services,
                                                         worker, service, host):
    # The stack worker allows 127.0.0.0/8, where Redis, PostgreSQL and S3 listen: the
    # allow-list is for image hosts and must not open our own backends.
    port = _own_ports(settings)[service]
    logs = {name: services.log_dir / f"{name}.log" for name in ("redis", "postgres")}
    before = {name: log_size(path) for name, path in logs.items()}
    _refused(client, rt, f"http://{host}:{port}/")
    # An HTTP request reaching Redis or PostgreSQL leaves a complaint in their logs.
    for name, path in logs.items():
        with path.open("rb") as f:
            f.seek(before[name])
            new = f.read().decode(errors="replace")
        assert "SECURITY ATTACK" not in new and "startup packet" not in new, new


REDIRECT_TARGETS = [
    "http://[::1]:{p6}/x.jpg",
    "http://0.0.0.0:{p4}/x.jpg",
    "http://[::ffff:0.0.0.0]:{p4}/x.jpg",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1:{p4}/x.jpg",
    "http://user:pw@127.0.0.1:{p4}/x.jpg",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{p4}/_GET%20/",
    "http://127.0.0.1:{redis}/",
]


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("template", REDIRECT_TARGETS)
def test_redirects_to_forbidden_targets_are_refused(client, rt, settings, worker, server, rec4,
                                                    rec6, template, status):
    srv = server("127.0.0.1")
    target = template.format(p4=rec4.port, p6=rec6.port, redis=_own_ports(settings)["redis"])
    url = srv.add_redirect("/start.jpg", target, status)
    _refused(client, rt, url, rec4, rec6)
    assert srv.hits == ["/start.jpg"]  # the first hop was fetched, the second never


# -- the strict worker (only 127.0.0.2/32 allowed) ---------------------------------------------
LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:{p4}/x.jpg",
    "https://127.0.0.1:{p4}/x.jpg",
    "http://127.255.255.254:{p4}/x.jpg",
    "http://localhost:{p4}/x.jpg",
    "http://LocalHost:{p4}/x.jpg",
    "http://127.1:{p4}/x.jpg",
    "http://2130706433:{p4}/x.jpg",
    "http://0177.0.0.1:{p4}/x.jpg",
    "http://017700000001:{p4}/x.jpg",
    "http://0x7f.0.0.1:{p4}/x.jpg",
    "http://0x7f000001:{p4}/x.jpg",
    "http://0x7f.1:{p4}/x.jpg",
    "http://[::ffff:127.0.0.1]:{p4}/x.jpg",
    "http://[::ffff:7f00:1]:{p4}/x.jpg",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{p4}/x.jpg",
    "http://[::1]:{p6}/x.jpg",
]


@pytest.mark.parametrize("template", LOOPBACK_SPELLINGS)
def test_loopback_in_every_spelling_is_refused(strict_client, rt, rec4, rec6, template):
    _refused(strict_client, rt, template.format(p4=rec4.port, p6=rec6.port), rec4, rec6)


@pytest.mark.parametrize("service", ["redis", "postgres", "s3"])
def test_own_services_refused_by_the_strict_worker(strict_client, rt, settings, service):
    _refused(strict_client, rt, f"http://127.0.0.1:{_own_ports(settings)[service]}/")


def test_strict_worker_fetches_from_its_allowed_host(strict_client, rt, server):
    # The control: the strict worker does fetch from 127.0.0.2, so its refusals above are
    # the address policy at work, not a worker that cannot fetch anything.
    srv = server(STRICT_ALLOWED_HOST)
    url = srv.add_bytes("/ok.png", _png(), "image/png")
    user = make_user(rt, credits=CREDITS)
    resp = post_remove(strict_client, get_token(strict_client, user["api_key"]), input_image=url)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["credits_remaining"] == CREDITS - 1
    assert_charged_once(rt, user, CREDITS)


STRICT_REDIRECTS = [
    "http://127.0.0.1:{p4}/x.jpg",
    "http://localhost:{p4}/x.jpg",
    "http://2130706433:{p4}/x.jpg",
    "http://[::ffff:127.0.0.1]:{p4}/x.jpg",
    "http://[::1]:{p6}/x.jpg",
    "//127.0.0.1:{p4}/x.jpg",  # scheme-relative Location
]


@pytest.mark.parametrize("status", [301, 303, 308])
@pytest.mark.parametrize("template", STRICT_REDIRECTS)
def test_redirect_from_allowed_host_to_loopback_is_refused(strict_client, rt, server, rec4, rec6,
                                                           template, status):
    srv = server(STRICT_ALLOWED_HOST)
    target = template.format(p4=rec4.port, p6=rec6.port)
    # Two hops on the allowed host first: every hop is checked, not only the first and last.
    url = srv.add_redirect("/a.jpg", srv.url("/b.jpg"), status)
    srv.add_redirect("/b.jpg", target, status)
    _refused(strict_client, rt, url, rec4, rec6)
    assert srv.hits == ["/a.jpg", "/b.jpg"]

