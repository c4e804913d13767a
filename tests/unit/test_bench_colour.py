"""make bench's colour rows (tools/bench/colour.py): alternating rounds, the median ratio."""

from __future__ import annotations

import pytest

from tools.bench import colour
from tools.bench.common import Run

pytestmark = pytest.mark.unit


def test_the_two_photos_alternate_round_by_round() -> None:
    order: list[str] = []

    def caller(name: str):
        def call() -> tuple[bool, dict]:
            if not order or order[-1] != name:
                order.append(name)
            return True, {"latency": 0.001, "worker_s": 0.5,
                          "decode_s": 0.02 if name.endswith("adobe-rgb") else 0.01}
        return call

    runs = colour.alternate(caller, clients=1, rounds=3, seconds=0.02)
    assert [r.system for r in runs] == ["colour srgb", "colour adobe-rgb"]
    photos = [name for _, name in colour.PHOTOS]
    assert order == photos * 4  # the warm-up pair, then three alternating rounds
    for run in runs:
        assert len(run.extra["rounds"]) == 3 and run.ok > 0 and run.errors == 0
        assert run.extra["median_round"] == sorted(run.extra["rounds"])[1]
        assert run.extra["worker_p50_ms"] == 500.0
    assert [r.extra["decode_p50_ms"] for r in runs] == [10.0, 20.0]


def test_the_ratio_is_of_the_median_rounds() -> None:
    srgb = Run("colour srgb", "1024x1024", 4, 30.0, ok=300,
               extra={"rounds": [10.0, 4.0, 10.0], "median_round": 10.0})
    adobe = Run("colour adobe-rgb", "1024x1024", 4, 30.0, ok=290,
                extra={"rounds": [9.6, 9.7, 9.8], "median_round": 9.7})
    assert colour.ratio(srgb, adobe) == 0.97  # one slow sRGB round does not count
    assert colour.paired(srgb, adobe) == 0.98  # 0.96, 2.425, 0.98: each round beside its pair
    assert colour.ratio(Run("a", "s", 1, 10.0, ok=10), Run("b", "s", 1, 10.0, ok=9)) == 0.9
