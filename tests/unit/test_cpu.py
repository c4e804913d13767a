"""Reading the CPU's model and SIMD flags from /proc/cpuinfo texts of the machines we meet."""

from __future__ import annotations

from worker.cpu import current, parse_cpuinfo

# Abridged from real machines: an AMD EPYC with AVX-512 VNNI, the AVX2-only EPYC that issue 18
# was found on, an Intel Xeon with AMX, and an ARM Neoverse (no model name, no `flags`).
EPYC_VNNI = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512bw \
avx512vl avx512_bf16 avx512_vnni
processor\t: 1
model name\t: something else
flags\t\t: fpu
"""
EPYC_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2
"""
XEON_AMX = """processor : 0
model name : Intel(R) Xeon(R) Platinum 8480+
flags : sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx_vnni amx_bf16 amx_tile amx_int8
"""
NEOVERSE = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc \
dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd0c
"""


def test_x86_with_vnni() -> None:
    cpu = parse_cpuinfo(EPYC_VNNI)
    assert cpu.model == "AMD EPYC"  # the first processor's block, not the second's
    assert cpu.has_int8_dot_product
    assert cpu.relevant_flags == ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
                                  "avx512_vnni", "avx512_bf16"]
    described = cpu.describe()
    assert described.startswith("AMD EPYC (sse4_2 avx avx2") and "no VNNI" not in described


def test_x86_avx2_only() -> None:
    cpu = parse_cpuinfo(EPYC_AVX2)
    assert cpu.model == "AMD EPYC"
    assert not cpu.has_int8_dot_product
    assert "avx2" in cpu.flags and "avx512f" not in cpu.flags
    assert cpu.describe() == "AMD EPYC (sse4_2 avx avx2 fma f16c; no VNNI/AMX int8 dot product)"
    assert cpu.as_dict() == {"model": "AMD EPYC", "flags": ["sse4_2", "avx", "avx2", "fma", "f16c"],
                             "int8_dot_product": False}


def test_xeon_with_amx() -> None:
    cpu = parse_cpuinfo(XEON_AMX)
    assert cpu.model == "Intel(R) Xeon(R) Platinum 8480+"
    assert {"avx_vnni", "amx_int8", "avx512_vnni"} <= set(cpu.relevant_flags)
    assert cpu.has_int8_dot_product


def test_arm_without_flags_line() -> None:
    cpu = parse_cpuinfo(NEOVERSE)
    assert cpu.model == "ARM implementer 0x41 part 0xd0c"
    assert cpu.relevant_flags == ["asimd", "asimddp"]
    assert cpu.has_int8_dot_product  # asimddp: the dot-product instructions


def test_empty_text_still_names_something() -> None:
    cpu = parse_cpuinfo("")
    assert cpu.model and cpu.flags == frozenset()
    assert not cpu.has_int8_dot_product


def test_this_machine_is_read() -> None:
    cpu = current()
    assert cpu.model
    # Every x86-64 machine we run on has at least SSE4.2 (x86-64-v2); ARM lists asimd.
    assert cpu.flags & {"sse4_2", "asimd"}
