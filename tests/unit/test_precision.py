"""The derived serving files, and the precision each CPU serves (worker/precision.py).

fp32 computes what the shipped file does. int8's closeness depends on the CPU (its integer
kernels differ with and without VNNI), so these tests assert the outcome that is right for
the CPU they run on: where the self-check finds int8 accurate, the served alpha (after the
guided refinement) differs from fp32's by at most 0.01 on average (2.5 of 255 levels) with
an IoU of at least 0.98 at 0.5, and int8 may be served; where it does not, auto serves fp32
and an explicit int8 is refused. make quality scores both precisions on ground truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.config import ConfigError, Settings
from shared.models import DEFAULT_INSTALL, MODELS, parse_names
from tools.models.derive.calibration import PHOTOS
from tools.models.install import md5_of
from worker import cpu, segment, sessions
from worker.precision import MIN_SPEEDUP, check_photos, measure
from worker.sessions import ModelUnavailable, load_segmenter

MODEL_DIR = Path(__file__).resolve().parents[2] / ".models"
MEAN_ALPHA_TOLERANCE, IOU_TOLERANCE = 0.01, 0.98


def _settings(**env: str) -> Settings:
    return Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(MODEL_DIR),
                              "ORT_INTRA_OP_THREADS": "1", **env})


def _alpha(image: Image.Image, segmenter, refine_mode: str = "guided") -> np.ndarray:
    return np.asarray(segment.mask(image, segmenter, refine_mode), np.float32) / 255.0


def test_every_derived_file_is_installed_with_its_pinned_hash() -> None:
    for name in parse_names(DEFAULT_INSTALL):
        for derived in MODELS[name].derived:
            assert md5_of(MODEL_DIR / derived.filename) == derived.md5, derived.filename


def test_check_photos_are_not_calibration_photos() -> None:
    assert "astronaut" not in PHOTOS and "motorcycle_right" not in PHOTOS


@pytest.fixture()
def fresh_choice(monkeypatch):
    """choose_precision decides once per process: each test starts undecided."""
    monkeypatch.setattr(sessions, "_CHOICES", {})


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", parse_names(DEFAULT_INSTALL))
def test_each_precision_rule_gives_the_right_outcome_on_this_cpu(name: str, fresh_choice) -> None:
    fp32 = load_segmenter(_settings(), name, "fp32")
    int8 = load_segmenter(_settings(), name, "int8")
    assert int8.precision == "int8" and not int8.fixed_batch
    check = measure(fp32, int8)
    here = cpu.current()
    auto = sessions.choose_precision(_settings(MODEL_NAME=name, MODEL_PRECISION="auto"))
    sessions._CHOICES.clear()
    if not check.accurate:
        # This CPU's int8 kernels are off: auto serves fp32, an explicit int8 is refused with
        # the CPU and the figure named.
        assert auto.precision == "fp32" and ("below" in auto.reason or "above" in auto.reason)
        with pytest.raises(ModelUnavailable, match="MODEL_PRECISION=int8 refused") as refused:
            sessions.choose_precision(_settings(MODEL_NAME=name, MODEL_PRECISION="int8"))
        assert here.model in str(refused.value)
        return
    # Accurate here: the served cut-out (after refinement) is within the stated tolerance,
    # int8 is served when asked, and auto takes it when it is faster.
    for i, photo in enumerate(check_photos()):
        a, b = _alpha(photo, fp32), _alpha(photo, int8)
        assert a.max() > 0.8 and a.min() < 0.2, (name, i)  # a real cut-out to compare
        mean = float(np.abs(a - b).mean())
        fg_a, fg_b = a >= 0.5, b >= 0.5
        iou = (fg_a & fg_b).sum() / max((fg_a | fg_b).sum(), 1)
        assert mean <= MEAN_ALPHA_TOLERANCE, (name, i, mean)
        assert iou >= IOU_TOLERANCE, (name, i, iou)
    assert sessions.choose_precision(_settings(MODEL_NAME=name,
                                             MODEL_PRECISION="int8")).precision == "int8"
    # auto's own timing ran separately from `check`'s: only a clear result in one is
    # compared with the other (timings on a shared host move by some per cent).
    if check.speedup >= 1.5 * MIN_SPEEDUP:
        assert auto.precision == "int8", (auto.reason, check)
    elif check.speedup <= MIN_SPEEDUP / 1.5:
        assert auto.precision == "fp32", (auto.reason, check)
    assert auto.reason.startswith(auto.precision + ":")


def test_fp32_runs_no_check(fresh_choice, monkeypatch) -> None:
    def fail(*_args, **_kwargs):
        raise AssertionError("fp32 must not run the self-check")

    monkeypatch.setattr(sessions, "measure", fail)
    choice = sessions.choose_precision(_settings(MODEL_NAME="u2netp", MODEL_PRECISION="fp32"))
    assert (choice.precision, choice.check) == ("fp32", None)
    assert "as configured" in choice.reason


def test_auto_on_a_model_without_int8_is_fp32(fresh_choice) -> None:
    settings = Settings.from_env({"APP_ENV": "development", "U2NET_HOME": "/nonexistent",
                                  "MODEL_NAME": "isnet"})
    assert settings.model_precision == "auto"  # the default
    choice = sessions.choose_precision(settings)
    assert choice.precision == "fp32" and "no int8 file" in choice.reason


@pytest.mark.timeout(120)
def test_derived_fp32_graph_gives_the_shipped_files_mask() -> None:
    import onnxruntime as ort

    from worker.inference import Segmenter

    spec = MODELS["u2netp"]
    shipped = Segmenter(spec, ort.InferenceSession(str(MODEL_DIR / spec.filename),
                                                   providers=["CPUExecutionProvider"]))
    derived = load_segmenter(_settings(), "u2netp", "fp32")
    assert shipped.fixed_batch and not derived.fixed_batch
    photo = check_photos()[0]
    a = np.asarray(segment.mask(photo, shipped, "none"), np.int16)
    b = np.asarray(segment.mask(photo, derived, "none"), np.int16)
    assert np.abs(a - b).max() <= 1


def test_precision_setting_is_validated() -> None:
    assert _settings(MODEL_PRECISION="int8").model_precision == "int8"
    assert _settings().model_precision == "auto"
    assert _settings(MODEL_NAME="isnet", MODEL_PRECISION="auto").model_precision == "auto"
    with pytest.raises(ConfigError, match="MODEL_PRECISION"):
        _settings(MODEL_PRECISION="int4")
    with pytest.raises(ConfigError, match="isnet has no int8"):
        _settings(MODEL_NAME="isnet", MODEL_PRECISION="int8")


def test_a_missing_int8_file_is_refused_with_the_fix(tmp_path) -> None:
    settings = Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(tmp_path),
                                  "MODEL_NAME": "u2netp", "MODEL_PRECISION": "int8"})
    with pytest.raises(ModelUnavailable, match="u2netp-int8.onnx"):
        load_segmenter(settings, "u2netp")


def test_an_altered_int8_file_is_refused(tmp_path) -> None:
    filename = MODELS["u2netp"].file_for("int8")[0]
    data = bytearray((MODEL_DIR / filename).read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / filename).write_bytes(bytes(data))
    settings = Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(tmp_path),
                                  "MODEL_NAME": "u2netp", "MODEL_PRECISION": "int8"})
    with pytest.raises(ModelUnavailable, match="not the pinned"):
        load_segmenter(settings, "u2netp")
