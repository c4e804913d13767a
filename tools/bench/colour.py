"""The colour rows: the same 1024² photo in sRGB and in Adobe RGB, in alternating rounds.

Issue 20's cost check: the colour-managed path (profile read, an sRGB copy for the model, the
profile embedded in the output) keeps the Adobe RGB photo's throughput within 5 % of the sRGB
one's. One back-to-back pair of runs on a shared machine swings more than that, so the two
photos alternate (srgb, adobe-rgb, srgb, ...) on the same worker, and the ratio is that of the
median round of each: a slow spell hits both sides alike.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable

from tools.bench.common import Run, load, say, to_run

ROUNDS = int(os.environ.get("BENCH_COLOUR_ROUNDS", "5"))
ROUND_SECONDS = float(os.environ.get("BENCH_COLOUR_SECONDS", "10"))
PHOTOS = (("srgb", "1024x1024"), ("adobe-rgb", "1024x1024 adobe-rgb"))


def alternate(caller: Callable[[str], Callable[[], tuple[bool, dict]]], clients: int,
              rounds: int = ROUNDS, seconds: float = ROUND_SECONDS) -> list[Run]:
    """One row per photo (all its rounds together), each round's img/s in extra["rounds"]."""
    calls = {label: caller(name) for label, name in PHOTOS}
    for call in calls.values():
        load(call, clients, 60, 2 * clients)  # warm: both photos' paths, every worker child
    runs = {label: Run(f"colour {label}", "1024x1024", clients, 0.0,
                       extra={"rounds": [], "round_seconds": seconds})
            for label in calls}
    stages: dict[str, dict[str, list[float]]] = {label: {"decode": [], "worker": []}
                                                 for label in calls}
    for n in range(rounds):
        for label, call in calls.items():
            say(f"colour {label} 1024x1024, round {n + 1}/{rounds}, {clients} client(s), "
                f"{seconds:.0f} s")
            elapsed, results = load(call, clients, seconds, 2000)
            one = to_run(runs[label].system, "1024x1024", clients, elapsed, results)
            run = runs[label]
            run.seconds += elapsed
            run.ok += one.ok
            run.errors += one.errors
            run.latencies += one.latencies
            run.extra["rounds"].append(round(one.rate, 3))
            for _, ok, info in results:
                if ok and info.get("decode_s") is not None:
                    stages[label]["decode"].append(info["decode_s"] * 1000)
                    stages[label]["worker"].append(info["worker_s"] * 1000)
    for label, run in runs.items():
        run.extra["median_round"] = round(statistics.median(run.extra["rounds"]), 3)
        # Per job, from the job records: the decode stage (where the profile is read and
        # the model's sRGB copy made) and the worker's whole time. Less swayed by a busy
        # machine than throughput: the cost in milliseconds, not in a share of a noisy rate.
        for stage, values in stages[label].items():
            if values:
                run.extra[f"{stage}_p50_ms"] = round(statistics.median(values), 1)
    return list(runs.values())


def paired(srgb: Run, adobe: Run) -> float | None:
    """The median over rounds of adobe-rgb's img/s over the sRGB round just before it."""
    pairs = [a / s for s, a in zip(srgb.extra.get("rounds", []), adobe.extra.get("rounds", []),
                                   strict=False) if s]
    return round(statistics.median(pairs), 3) if pairs else None


def ratio(srgb: Run, adobe: Run) -> float:
    """Adobe RGB's throughput over sRGB's: from the median rounds where there are rounds."""
    if "median_round" in srgb.extra and "median_round" in adobe.extra:
        return round(adobe.extra["median_round"] / srgb.extra["median_round"], 3)
    return round(adobe.rate / srgb.rate, 3)
