"""What this machine's CPU is, as far as our int8 kernels care: its model and SIMD flags.

onnxruntime's integer kernels compute differently (and at different speeds) with and without
the dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX): the precision self-check
(worker/precision.py) names the CPU in what it logs and in a refusal, and `make bench` records
it beside its figures. Reads /proc/cpuinfo only (Linux); elsewhere the platform's name.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from pathlib import Path

# The flags that decide how int8 (and fp32) convolutions run on x86, in the order we print
# them; on ARM the counterparts of the dot-product ones (asimddp, i8mm).
RELEVANT_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni",
                  "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "asimd", "asimddp", "i8mm")
# Any of these makes onnxruntime's u8s8 kernels use dot-product instructions.
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str]

    @property
    def relevant_flags(self) -> list[str]:
        return [f for f in RELEVANT_FLAGS if f in self.flags]

    @property
    def has_int8_dot_product(self) -> bool:
        return any(f in self.flags for f in INT8_DOT_FLAGS)

    def describe(self) -> str:
        """One line for logs and messages, e.g. "AMD EPYC (avx avx2 fma f16c; no VNNI/AMX)"."""
        flags = " ".join(self.relevant_flags) or "no SIMD flags listed"
        dot = "" if self.has_int8_dot_product else "; no VNNI/AMX int8 dot product"
        return f"{self.model} ({flags}{dot})"

    def as_dict(self) -> dict[str, object]:
        return {"model": self.model, "flags": self.relevant_flags,
                "int8_dot_product": self.has_int8_dot_product}


def parse_cpuinfo(text: str) -> CpuInfo:
    """The first processor's model and flags from a /proc/cpuinfo text.

    x86 lists `model name` and `flags`; ARM lists `Features` (and often no model name: then
    `CPU implementer`/`CPU part`, or the `Hardware`/`Model` line some kernels add).
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key and key not in fields:  # the first processor's block is enough
            fields[key] = value.strip()
    model = (fields.get("model name") or fields.get("model") or fields.get("hardware")
             or fields.get("cpu model") or "")
    if not model and "cpu implementer" in fields:
        model = f"ARM implementer {fields['cpu implementer']} part {fields.get('cpu part', '?')}"
    flags = (fields.get("flags") or fields.get("features") or "").split()
    return CpuInfo(model or platform.processor() or platform.machine() or "unknown CPU",
                   frozenset(flags))


@functools.cache  # the CPU does not change under a running process
def current() -> CpuInfo:
    """This machine's CPU (from /proc/cpuinfo where there is one)."""
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text(errors="replace"))
    except OSError:
        return CpuInfo(platform.processor() or platform.machine() or "unknown CPU", frozenset())
