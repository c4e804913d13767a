"""rembg's own output for the same model: the peer every variant is scored against."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shared.models import ModelSpec, catalogue

# rembg's session for a file of each family that is not one of rembg's own (IMG.LY's ISNet,
# MODELS_FILE entries). rembg has no custom BiRefNet or BRIA session: no peer for those.
CUSTOM_SESSIONS = {"u2net": "u2net_custom", "isnet": "dis_custom", "ben": "ben_custom"}


def rembg_name(spec: ModelSpec) -> str | None:
    """rembg's session name for a model: its own name for a rembg model (rembg finds the same
    file, same md5, as <name>.onnx in U2NET_HOME and does not download it), else the custom
    session of its family; None where rembg has none, or where the model's input side is not
    the family's (rembg's custom sessions resize to the family's side, fixed)."""
    if spec.local_file or not spec.urls:
        if spec.input_size != spec.family_info.input_size:
            return None
        return CUSTOM_SESSIONS.get(spec.family)
    return spec.name


def rembg_session(model: str, home: Path, threads: int, models_file: str = "") -> Any:
    """A rembg session for model, from our weights directory (rembg never downloads here);
    None where rembg cannot run it (the quality report then has no rembg column for it)."""
    spec = catalogue(models_file or os.environ.get("MODELS_FILE", ""))[model]
    name = rembg_name(spec)
    if name is None:
        return None
    os.environ["U2NET_HOME"] = str(home)
    import onnxruntime as ort
    from rembg import new_session

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    extra = {}
    if name.endswith("_custom"):
        extra["model_path"] = str(home / spec.filename)
    return new_session(name, providers=["CPUExecutionProvider"], sess_opts=options, **extra)


def rembg_alpha(session: Any, image: Image.Image) -> np.ndarray:
    """What rembg.remove() would put in the alpha channel, as floats in [0, 1]."""
    mask = session.predict(image)[0]
    return np.asarray(mask.convert("L"), dtype=np.float32) / 255.0
