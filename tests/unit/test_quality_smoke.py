"""Quality smoke test: the default pipeline is no worse than rembg's output of the same model.

On a handful of ground-truth pairs per set from ../shared/quality when that folder exists,
and always on synthetic composites with a known alpha (what a fresh clone without it has).
A regression in the model step or the refinement fails CI here; make quality has the figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.config import Settings
from tools.quality import scores
from tools.quality.dataset import Pair, load
from tools.quality.evaluate import DEFAULT_DATA
from tools.quality.peer import rembg_alpha, rembg_session
from tools.quality.synthetic import pairs as synthetic_pairs
from worker import segment
from worker.sessions import load_segmenter

MODEL_DIR = Path(__file__).resolve().parents[2] / ".models"
PAIRS_PER_SET = 3
# Slack for rounding only: "no worse" with a margin far below any real change.
IOU_SLACK, MAE_SLACK = 0.003, 0.002


@pytest.fixture(scope="module")
def default_model() -> tuple[object, object, Settings]:
    # fp32: the same weights and arithmetic as rembg's, so that "no worse" measures our
    # pipeline alone. Which precision a CPU serves by default (auto) depends on that CPU;
    # int8's closeness to fp32 is tests/unit/test_precision.py's, on ground truth make quality's.
    settings = Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(MODEL_DIR),
                                  "ORT_INTRA_OP_THREADS": "2", "MODEL_PRECISION": "fp32"})
    name = settings.model_name  # the default deployment's model (u2net)
    return load_segmenter(settings, name), rembg_session(name, MODEL_DIR, 2), settings


def _compare(pairs: list[Pair], default_model) -> dict[str, float]:
    segmenter, peer, settings = default_model
    ours, theirs = [], []
    for pair in pairs:
        mask = segment.mask(pair.image, segmenter, settings.refine, settings.tta_flip)
        alpha = np.asarray(mask, np.float32) / 255.0
        ours.append(scores.score(alpha, pair.alpha, False, pair.valid))
        theirs.append(scores.score(rembg_alpha(peer, pair.image), pair.alpha, False,
                                    pair.valid))
    mean = {f"{who}_{k}": float(np.mean([r[k] for r in rows]))
            for who, rows in (("ours", ours), ("rembg", theirs)) for k in ("iou", "mae")}
    return mean


def _assert_no_worse(m: dict[str, float], where: str) -> None:
    assert m["ours_iou"] >= m["rembg_iou"] - IOU_SLACK, (where, m)
    assert m["ours_mae"] <= m["rembg_mae"] + MAE_SLACK, (where, m)
    assert m["ours_iou"] > 0.5, (where, m)  # a real cut-out, not two equally broken ones


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_default_pipeline_no_worse_than_rembg_on_synthetic_pairs(default_model) -> None:
    _assert_no_worse(_compare(synthetic_pairs(), default_model), "synthetic")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_default_pipeline_no_worse_than_rembg_on_ground_truth(default_model) -> None:
    if not DEFAULT_DATA.is_dir():
        # A fresh clone without ../shared: the synthetic test above is the guard.
        _assert_no_worse(_compare(synthetic_pairs()[:3], default_model), "synthetic")
        return
    for pairs in load(DEFAULT_DATA, limit=PAIRS_PER_SET):
        # Soft sets are scored like binary ones here (alpha >= 0.5, MAE): the smoke test
        # guards the cut-out; make quality reports the matting errors.
        _assert_no_worse(_compare(pairs, default_model), pairs[0].set_name)
