"""MODELS_FILE: the operator's own models (TOML), each an entry of a known family.

    [models.shop-v3]
    family = "birefnet"              # u2net, isnet, birefnet, ben or bria
    file = "/srv/models/shop-v3.onnx"
    md5 = "0123456789abcdef0123456789abcdef"
    licence = "proprietary"
    input_size = 1024                # optional: the family's side otherwise

`make models` copies the file into U2NET_HOME as <name>.onnx after checking its md5; the
worker loads that copy (checked again) and the gateway accepts the name as a model.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from shared.families import FAMILIES
from shared.model_spec import GATES, ModelSpec

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_KEYS = {"family", "file", "md5", "licence", "input_size", "gate", "mean", "std"}


class ModelsFileError(ValueError):
    """A MODELS_FILE that cannot be used; the message names the file and the entry."""


def load(path: Path, builtin: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
    """The entries of the MODELS_FILE at path, validated, by name."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ModelsFileError(f"MODELS_FILE {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelsFileError(f"MODELS_FILE {path}: not valid TOML ({exc})") from None
    entries = data.get("models")
    if not isinstance(entries, dict):
        raise ModelsFileError(f"MODELS_FILE {path}: no [models.<name>] tables")
    return {name: _entry(path, name, entry, builtin) for name, entry in entries.items()}


def _entry(path: Path, name: str, entry: Any, builtin: dict[str, ModelSpec]) -> ModelSpec:
    where = f"MODELS_FILE {path}, [models.{name}]"
    if not isinstance(entry, dict):
        raise ModelsFileError(f"{where}: not a table")
    if not _NAME.match(name):
        raise ModelsFileError(f"{where}: a name is lower-case letters, digits, '.', '_', '-'")
    if name in builtin:
        raise ModelsFileError(f"{where}: {name} is a built-in model; choose another name")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ModelsFileError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    for key in ("family", "file", "md5", "licence"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ModelsFileError(f"{where}: {key} (a string) is required")
    if entry["family"] not in FAMILIES:
        raise ModelsFileError(f"{where}: unknown family {entry['family']!r} "
                              f"(known: {', '.join(FAMILIES)})")
    md5 = entry["md5"].lower()
    if not _MD5.match(md5):
        raise ModelsFileError(f"{where}: md5 must be 32 hexadecimal digits")
    family = FAMILIES[entry["family"]]
    side = entry.get("input_size", family.input_size)
    if not isinstance(side, int) or not 8 <= side <= 4096:
        raise ModelsFileError(f"{where}: input_size must be an integer 8..4096")
    gate = entry.get("gate", "none")
    if gate not in GATES:
        raise ModelsFileError(f"{where}: gate must be one of {', '.join(GATES)}")
    normalisation = None
    if "mean" in entry or "std" in entry:
        mean = entry.get("mean", list(family.normalisation[0]))
        std = entry.get("std", list(family.normalisation[1]))
        if not all(isinstance(v, list) and len(v) == 3 for v in (mean, std)):
            raise ModelsFileError(f"{where}: mean and std are lists of 3 numbers")
        normalisation = (tuple(map(float, mean)), tuple(map(float, std)))
    return ModelSpec(name=name, family=family.name, filename=f"{name}.onnx", md5=md5,
                     size_bytes=None, input_size=side, licence=entry["licence"], gate=gate,
                     source=f"MODELS_FILE: {entry['file']}", normalisation=normalisation,
                     local_file=entry["file"])
