"""Families in-process: each synthetic model (tests/synthetic_models.py) through the real
session loader and segment step, and the family table against rembg's session code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from shared.config import Settings
from shared.families import FAMILIES
from shared.models import MODELS, md5_of
from tests.synthetic_models import SIDE, SIGNATURES, build, expected_alpha, photo
from worker import segment, sessions


@pytest.fixture(scope="module")
def settings_for(tmp_path_factory):
    root = tmp_path_factory.mktemp("families-unit")
    entries = []
    for family, sig in SIGNATURES.items():
        source = root / f"syn-{family}.onnx"  # already where U2NET_HOME=root looks
        build(sig, SIDE, source)
        entries.append(f'[models.syn-{family}]\nfamily = "{family}"\nfile = "{source}"\n'
                       f'md5 = "{md5_of(source)}"\nlicence = "test"\ninput_size = {SIDE}\n')
    (root / "models.toml").write_text("\n".join(entries))

    def make(family: str) -> Settings:
        return Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(root),
                                  "MODELS_FILE": str(root / "models.toml"),
                                  "MODEL_NAME": f"syn-{family}"})
    return make


@pytest.mark.parametrize("family", list(SIGNATURES))
def test_each_family_yields_its_known_map(family, settings_for):
    settings = settings_for(family)
    segmenter = sessions.load_segmenter(settings, settings.model_name)
    assert segmenter.precision == "fp32"  # no derived files: fp32 only
    image = photo()
    alpha = np.asarray(segment.mask(image, segmenter, "none")).astype(int)
    assert np.abs(alpha - expected_alpha(family, image)).max() <= 1


@pytest.mark.parametrize("family", ["birefnet", "isnet"])
def test_a_wrong_family_step_is_caught(family, settings_for, monkeypatch):
    # The proof is only worth something if a wrong step fails it: drop BiRefNet's sigmoid,
    # give ISNet U2-Net's std.
    settings = settings_for(family)
    segmenter = sessions.load_segmenter(settings, settings.model_name)
    wrong = dataclasses.replace(FAMILIES[family], sigmoid=not FAMILIES[family].sigmoid,
                                normalisation=FAMILIES["u2net"].normalisation)
    segmenter.family = wrong
    segmenter.spec = dataclasses.replace(segmenter.spec, normalisation=wrong.normalisation)
    image = photo()
    alpha = np.asarray(segment.mask(image, segmenter, "none")).astype(int)
    assert np.abs(alpha - expected_alpha(family, image)).max() > 10


def test_catalogue_rows_follow_rembg():
    # rembg/sessions/*.py: sides, and which families emit logits.
    assert {FAMILIES[f].input_size for f in ("isnet", "birefnet", "ben", "bria")} == {1024}
    assert FAMILIES["u2net"].input_size == 320
    assert [f for f, fam in FAMILIES.items() if fam.sigmoid] == ["birefnet"]
    assert MODELS["birefnet-general-lite"].urls == (
        "https://github.com/danielgatis/rembg/releases/download/v0.0.0/"
        "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",)
    assert MODELS["bria-rmbg"].gate == "noncommercial"
    assert MODELS["isnet"].gate == "agpl"
    for spec in MODELS.values():
        assert spec.family in FAMILIES
        assert spec.urls or spec.registry, spec.name
        assert Path(spec.filename).suffix == ".onnx"


def test_quality_and_bench_peers_follow_the_catalogue(settings_for):
    # make quality / make bench score any installed model against rembg's session for it.
    from tools.quality.peer import rembg_name

    assert rembg_name(MODELS["birefnet-general-lite"]) == "birefnet-general-lite"
    assert rembg_name(MODELS["isnet"]) == "dis_custom"  # IMG.LY's file, not rembg's
    custom = settings_for("u2net").catalogue
    assert rembg_name(custom["syn-birefnet"]) is None  # rembg has no custom BiRefNet session
    # rembg's custom U2-Net session resizes to 320, whatever the file takes: no peer at 64.
    assert rembg_name(custom["syn-u2net"]) is None
    at_320 = dataclasses.replace(custom["syn-u2net"], input_size=320)
    assert rembg_name(at_320) == "u2net_custom"
