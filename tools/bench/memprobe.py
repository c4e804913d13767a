"""The probe tools/bench/memtrace_conf.py runs inside a gateway worker (measurement only)."""

from __future__ import annotations

import ctypes
import gc
import json
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _libc() -> Any:
    return ctypes.CDLL("libc.so.6")


def heap() -> dict[str, int]:
    """glibc's view: bytes in use (uordblks + mmapped) and free but kept (fordblks)."""
    libc = _libc()
    libc.mallinfo2.restype = _MallInfo2
    m = libc.mallinfo2()
    return {"in_use": m.uordblks + m.hblkhd, "free_kept": m.fordblks, "mmapped": m.hblkhd}


def status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmData"):
            out[key] = int(value.split()[0])
    return out


def _frame_bytes(frame: Any) -> int:
    """Estimated size of a frame on CPython 3.11's per-greenlet frame stack."""
    code = frame.f_code
    slots = (len(code.co_varnames) + len(code.co_cellvars) + len(code.co_freevars)
             + code.co_stacksize)
    return 80 + 8 * slots


def greenlets() -> dict[str, Any]:
    """Suspended greenlets: how many, their depth, saved C stack and estimated frame bytes."""
    import greenlet

    depths: Counter = Counter()
    count = saved = frames = 0
    sample: list[str] = []
    for obj in gc.get_objects():
        if isinstance(obj, greenlet.greenlet) and obj.gr_frame is not None:
            count += 1
            saved += obj._stack_saved
            depth, frame, names = 0, obj.gr_frame, []
            while frame is not None:
                depth += 1
                frames += _frame_bytes(frame)
                names.append(f"{frame.f_code.co_filename.rsplit('/', 2)[-1]}:"
                             f"{frame.f_code.co_name}")
                frame = frame.f_back
            depths[depth] += 1
            if depth > len(sample):
                sample = names
    return {"suspended": count, "depths": dict(depths.most_common(5)),
            "stack_saved_avg": saved // max(count, 1), "frame_bytes_avg": frames // max(count, 1),
            "deepest": sample}


def dump(path: Path, base: tracemalloc.Snapshot | None,
         settle: bool) -> tracemalloc.Snapshot | None:
    import gevent

    if settle:
        gc.collect()
        _libc().malloc_trim(0)
        gevent.sleep(1)
    snap = None
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
    report: dict[str, Any] = {"t": time.time(), "status": status(), "heap": heap(),
                              "traced": tracemalloc.get_traced_memory(),
                              "greenlets": greenlets(), "objects": len(gc.get_objects())}
    types = Counter(type(o).__name__ for o in gc.get_objects())
    report["types"] = types.most_common(25)
    if base is not None and snap is not None:
        stats = snap.compare_to(base, "traceback")
        report["top"] = [{"size_diff": s.size_diff, "count_diff": s.count_diff,
                          "trace": s.traceback.format()[-16:]} for s in stats[:30]]
        by_line = snap.compare_to(base, "lineno")
        report["top_lines"] = [str(s) for s in by_line[:40]]
    path.write_text(json.dumps(report, indent=1))
    return snap


def watch(folder: Path, frames: int) -> None:
    import gevent

    if frames:
        tracemalloc.start(frames)
    base = None
    while True:
        for req in sorted(folder.glob("*.req")):
            settle = "settle" in req.read_text()
            req.unlink()
            snap = dump(folder / (req.stem + ".json"), base, settle)
            base = base or snap
        gevent.sleep(0.2)
