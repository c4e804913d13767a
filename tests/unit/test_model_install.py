"""tools/models/install.py: upstream, mirror and MODELS_FILE sources, pins, gates, listing.

No weights of the upstream rows are reachable here, so the files are small synthetic ones:
a file under a real row's upstream name must be refused (its hash is not the pin); one that
must be accepted goes through a copy of the row whose pin is that file's md5 (the shipped
catalogue is never changed).
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shared.models import MODELS, md5_of
from tools.models import install

LITE = MODELS["birefnet-general-lite"]
REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if k not in ("MODEL_MIRROR", "MODELS_FILE", "MODELS", "MODELS_LIST")}
    return subprocess.run([sys.executable, "-m", "tools.models.install"], cwd=REPO,
                          env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_offline_upstream_install_fails_fast_naming_url_and_mirror(tmp_path):
    # No network: every connection goes to a proxy port nobody listens on (refused at once,
    # on any machine, whether or not it could reach GitHub).
    proxy = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    done = _run({"MODELS": "birefnet-general-lite", "U2NET_HOME": str(tmp_path),
                 "https_proxy": proxy, "HTTPS_PROXY": proxy, "no_proxy": ""})
    seconds = time.monotonic() - started
    assert done.returncode != 0
    assert LITE.urls[0] in done.stderr
    assert "MODEL_MIRROR" in done.stderr
    assert seconds < 15, seconds  # seconds, not a TCP timeout (the interpreter start included)
    assert list(tmp_path.iterdir()) == []  # no partial file


def test_a_mirror_file_with_the_wrong_hash_is_refused(tmp_path):
    mirror, home = tmp_path / "mirror", tmp_path / "home"
    mirror.mkdir()
    (mirror / LITE.mirror_name).write_bytes(b"not BiRefNet" * 1000)
    done = _run({"MODELS": "birefnet-general-lite", "U2NET_HOME": str(home),
                 "MODEL_MIRROR": str(mirror)})
    assert done.returncode != 0
    assert "refusing" in done.stderr and LITE.md5 in done.stderr
    assert list(home.iterdir()) == []


def test_a_mirror_folder_with_the_right_file_installs(tmp_path, capsys):
    mirror, home = tmp_path / "mirror", tmp_path / "home"
    mirror.mkdir()
    (mirror / LITE.mirror_name).write_bytes(b"weights" * 1000)
    spec = dataclasses.replace(LITE, md5=md5_of(mirror / LITE.mirror_name))
    env = {"MODEL_MIRROR": str(mirror)}
    assert install.install(spec, home, env) == "installed"
    assert md5_of(home / "birefnet-general-lite.onnx") == spec.md5
    assert sorted(p.name for p in home.iterdir()) == ["birefnet-general-lite.onnx"]
    assert install.install(spec, home, env) == "present"


def test_a_url_mirror_installs_with_progress(tmp_path, capsys, monkeypatch):
    mirror, home = tmp_path / "mirror", tmp_path / "home"
    (mirror / "release").mkdir(parents=True)
    (mirror / "release" / LITE.mirror_name).write_bytes(os.urandom(3 << 20))
    spec = dataclasses.replace(LITE, md5=md5_of(mirror / "release" / LITE.mirror_name))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr("tools.models.fetchers.PROGRESS_FROM", 1 << 20)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/release/"
        assert install.install(spec, home, {"MODEL_MIRROR": url}) == "installed"
    finally:
        server.shutdown()
    assert md5_of(home / spec.filename) == spec.md5
    assert "100 %" in capsys.readouterr().out


def test_url_mirror_missing_file_names_it(tmp_path):
    with pytest.raises(SystemExit, match="MODEL_MIRROR is set"):
        install.install(LITE, tmp_path, {"MODEL_MIRROR": f"file://{tmp_path}/none"})
    assert list(tmp_path.iterdir()) == []


def test_licence_gates(tmp_path):
    with pytest.raises(SystemExit, match="ACCEPT_NONCOMMERCIAL_MODELS=1"):
        install.install(MODELS["bria-rmbg"], tmp_path, {})
    with pytest.raises(SystemExit, match="ACCEPT_AGPL_MODELS=1"):
        install.install(MODELS["isnet"], tmp_path, {})
    # Accepted, it is fetched, and its sha256 pin (rembg pins bria-rmbg by sha256) checked.
    (tmp_path / "bria-rmbg-2.0.onnx").write_bytes(b"x")
    with pytest.raises(SystemExit, match="sha256:"):
        install.install(MODELS["bria-rmbg"], tmp_path / "home",
                        {"ACCEPT_NONCOMMERCIAL_MODELS": "1", "MODEL_MIRROR": str(tmp_path)})


def _models_file(tmp_path: Path, family: str, md5: str) -> Path:
    source = tmp_path / "shop-v3.onnx"
    source.write_bytes(b"fine-tuned")
    path = tmp_path / "models.toml"
    path.write_text(f'[models.shop-v3]\nfamily = "{family}"\nfile = "{source}"\n'
                    f'md5 = "{md5}"\nlicence = "proprietary"\n')
    return path


def test_models_file_entry_installs_and_lists(tmp_path):
    path = _models_file(tmp_path, "birefnet", "0" * 32)
    real = md5_of(tmp_path / "shop-v3.onnx")
    path.write_text(path.read_text().replace("0" * 32, real))
    home = tmp_path / "home"
    install.main({"MODELS_FILE": str(path), "MODELS": "shop-v3", "U2NET_HOME": str(home)})
    assert md5_of(home / "shop-v3.onnx") == real
    done = _run({"MODELS_FILE": str(path), "U2NET_HOME": str(home), "MODELS_LIST": "json"})
    rows = {r["name"]: r for r in json.loads(done.stdout)["models"]}
    assert rows["shop-v3"]["installed"] and rows["shop-v3"]["family"] == "birefnet"
    assert rows["shop-v3"]["source_kind"] == "file"
    assert not rows["birefnet-general"]["installed"]
    table = _run({"MODELS_FILE": str(path), "U2NET_HOME": str(home), "MODELS_LIST": "1"}).stdout
    header, *lines = table.splitlines()
    assert header.split() == ["name", "family", "input", "size", "licence", "gate",
                              "installed", "source"]
    assert any(line.startswith("bria-rmbg") and "ACCEPT_NONCOMMERCIAL_MODELS" in line
               for line in lines)
    assert len(lines) == len(MODELS) + 1


def test_models_file_wrong_md5_or_family_is_refused_naming_the_entry(tmp_path):
    path = _models_file(tmp_path, "birefnet", "0123456789abcdef0123456789abcdef")
    home = tmp_path / "home"
    with pytest.raises(SystemExit, match="shop-v3.*refusing"):
        install.main({"MODELS_FILE": str(path), "MODELS": "shop-v3", "U2NET_HOME": str(home)})
    assert not (home / "shop-v3.onnx").exists()
    path = _models_file(tmp_path, "segformer", "0123456789abcdef0123456789abcdef")
    with pytest.raises(SystemExit, match=r"\[models.shop-v3\]: unknown family 'segformer'"):
        install.main({"MODELS_FILE": str(path), "MODELS": "shop-v3", "U2NET_HOME": str(home)})
