"""rembg's own output for the same model: the peer every variant is scored against."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shared.models import MODELS

# rembg's session name for each of our models (ISNet runs as a custom DIS model).
REMBG_SESSIONS = {"u2netp": "u2netp", "u2net": "u2net", "isnet": "dis_custom"}


def rembg_session(model: str, home: Path, threads: int) -> Any:
    """A rembg session for model, from our weights directory (rembg never downloads here)."""
    os.environ["U2NET_HOME"] = str(home)
    import onnxruntime as ort
    from rembg import new_session

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    extra = {}
    if REMBG_SESSIONS[model] == "dis_custom":
        extra["model_path"] = str(home / MODELS[model].filename)
    return new_session(REMBG_SESSIONS[model], providers=["CPUExecutionProvider"],
                       sess_opts=options, **extra)


def rembg_alpha(session: Any, image: Image.Image) -> np.ndarray:
    """What rembg.remove() would put in the alpha channel, as floats in [0, 1]."""
    mask = session.predict(image)[0]
    return np.asarray(mask.convert("L"), dtype=np.float32) / 255.0
