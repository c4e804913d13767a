"""MODEL_PRECISION's rule (worker/precision.decide) on the figures CPUs have given."""

from __future__ import annotations

import pytest

from worker.cpu import parse_cpuinfo
from worker.precision import Check, Int8Refused, decide

AVX2 = parse_cpuinfo("model name : AMD EPYC\nflags : sse4_2 avx avx2 fma f16c\n")
VNNI = parse_cpuinfo("model name : AMD EPYC\nflags : avx2 avx512f avx512_vnni\n")
# Issue 18's AVX2-only EPYC (one thread, 320x320): u2netp int8 is faster but off; u2net's
# int8 is accurate and faster.
U2NETP_AVX2 = Check(mean_error=0.0158, agreement=0.984, fp32_ms=615, int8_ms=403)
U2NET_AVX2 = Check(mean_error=0.006, agreement=0.995, fp32_ms=1470, int8_ms=980)


def test_auto_takes_int8_where_it_is_accurate_and_faster() -> None:
    choice = decide("auto", U2NET_AVX2, AVX2)
    assert choice.precision == "int8"
    assert choice.reason == "int8: agreement 0.995, mean error 0.0060, 1.5x faster than fp32"


def test_auto_keeps_fp32_where_int8_is_off() -> None:
    choice = decide("auto", U2NETP_AVX2, AVX2)
    assert choice.precision == "fp32"
    assert choice.reason == "fp32: int8 agreement 0.984 below 0.99 on AMD EPYC"
    assert choice.check is U2NETP_AVX2


def test_auto_keeps_fp32_where_int8_is_accurate_but_not_faster() -> None:
    slow = Check(mean_error=0.002, agreement=0.998, fp32_ms=100, int8_ms=95)
    choice = decide("auto", slow, VNNI)
    assert choice.precision == "fp32" and "only 1.05x as fast" in choice.reason


def test_a_large_mean_error_alone_is_enough_to_refuse() -> None:
    blurred = Check(mean_error=0.02, agreement=0.995, fp32_ms=600, int8_ms=200)
    assert decide("auto", blurred, VNNI).reason.startswith("fp32: int8 mean error 0.0200 above")


def test_explicit_int8_is_refused_naming_the_cpu_and_the_agreement() -> None:
    with pytest.raises(Int8Refused) as refused:
        decide("int8", U2NETP_AVX2, AVX2)
    message = str(refused.value)
    assert "agreement 0.984 below 0.99" in message
    assert "AMD EPYC (sse4_2 avx avx2 fma f16c; no VNNI/AMX int8 dot product)" in message
    assert "MODEL_PRECISION=auto" in message


def test_explicit_int8_is_served_where_accurate_even_if_not_faster() -> None:
    slow = Check(mean_error=0.002, agreement=0.998, fp32_ms=100, int8_ms=120)
    assert decide("int8", slow, AVX2).precision == "int8"


def test_fp32_and_models_without_int8_need_no_check() -> None:
    assert decide("fp32", None, AVX2).precision == "fp32"
    assert decide("fp32", U2NET_AVX2, AVX2).precision == "fp32"  # asked for: no int8
    assert decide("auto", None, AVX2).reason == "fp32: this model has no int8 file"


def test_check_figures_for_logs() -> None:
    assert U2NET_AVX2.speedup == pytest.approx(1.5, abs=0.01)
    assert U2NET_AVX2.accurate and not U2NETP_AVX2.accurate
    assert U2NETP_AVX2.as_dict() == {"agreement": 0.984, "mean_error": 0.0158, "fp32_ms": 615,
                                     "int8_ms": 403, "speedup": 1.53}
