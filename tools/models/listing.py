"""`make models LIST=1`: the catalogue as a table (or LIST=json), with what is installed here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.model_spec import GATES, ModelSpec

COLUMNS = ("name", "family", "input", "size", "licence", "gate", "installed", "source")


def row(spec: ModelSpec, home: Path) -> dict[str, Any]:
    """One model's facts. "installed": its file is in U2NET_HOME (the hash is checked when
    it is installed and again when a worker loads it, not here: that reads 1 GB files)."""
    return {
        "name": spec.name, "family": spec.family, "input": spec.input_size,
        "size_bytes": spec.size_bytes, "licence": spec.licence, "gate": spec.gate,
        "accept": GATES[spec.gate] or None, "installed": (home / spec.filename).is_file(),
        "file": spec.filename, "hash": spec.md5, "source_kind": spec.source_kind,
        "source": spec.source, "urls": list(spec.urls), "precisions": list(spec.precisions),
    }


def _cells(r: dict[str, Any]) -> tuple[str, ...]:
    size = f"{r['size_bytes'] / 1e6:.0f} MB" if r["size_bytes"] else "unknown"
    gate = f"{r['gate']} ({r['accept']}=1)" if r["accept"] else "none"
    return (r["name"], r["family"], str(r["input"]), size, r["licence"], gate,
            "yes" if r["installed"] else "no", f"{r['source_kind']}: {r['source']}")


def render(models: dict[str, ModelSpec], home: Path, mode: str = "1") -> str:
    """The table (mode "1" or "table") or the JSON document (mode "json")."""
    rows = [row(spec, home) for spec in models.values()]
    if mode == "json":
        return json.dumps({"u2net_home": str(home), "models": rows}, indent=2)
    lines = [COLUMNS, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False))
                     + "  " + line[-1] for line in lines)
