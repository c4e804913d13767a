"""`python -m tools.bench`: every part in order, then the report."""

from __future__ import annotations

import json
import os

from shared.models import catalogue
from tools.bench import segment
from tools.bench.api import bench_api
from tools.bench.common import BENCH, MODEL, QUICK, SIZES, machine, make_images, say
from tools.bench.peers import bench_ceiling, bench_peer
from tools.bench.report import chart, report
from tools.quality.peer import rembg_name
from tools.stack.processes import REPO


def main() -> int:
    BENCH.mkdir(exist_ok=True)
    os.environ.setdefault("U2NET_HOME", str(REPO / ".models"))  # also for spawned processes
    sizes = ["1024x1024"] if QUICK else list(SIZES)
    levels = [4] if QUICK else [1, 2, 4, 8]
    # e.g. BENCH_SIZES=1024x1024,4000x3000 BENCH_LEVELS=1,4: only the rows the targets use.
    sizes = [x for x in os.environ.get("BENCH_SIZES", ",".join(sizes)).split(",") if x]
    levels = [int(x) for x in os.environ.get("BENCH_LEVELS", ",".join(map(str, levels))
                                             ).split(",") if x]
    seconds = {"1024x1024": 20.0, "4000x3000": 30.0}
    info = machine()
    say(f"{'quick' if QUICK else 'full'} run on {info['cores']} cores ({info['cpu_line']})")
    images = make_images()
    # BENCH_ONLY=segment: the segment-stage rows alone (a minute or two per model);
    # BENCH_ONLY=colour: the colour rows alone (srgb / adobe-rgb rounds, a few minutes).
    only = os.environ.get("BENCH_ONLY", "")
    runs = (segment.run(MODEL, images, sizes)
            if os.environ.get("BENCH_SEGMENT", "1") != "0" and only != "colour" else [])
    if only == "colour":
        runs += bench_api(images, ["1024x1024"], levels, seconds, colour_only=True)
    elif only != "segment":
        runs += bench_api(images, sizes, levels, seconds)
        # rembg.remove() and `rembg s` run rembg's own models by name (BENCH_MODEL any
        # catalogue model rembg has); an operator's MODELS_FILE model has no such peer.
        spec = catalogue(os.environ.get("MODELS_FILE", ""))[MODEL]
        if rembg_name(spec) == MODEL:
            runs += bench_ceiling(images, sizes, seconds)
            runs += bench_peer(images, sizes, levels, seconds)
        else:
            say(f"{MODEL} is not one of rembg's models: no ceiling or peer rows")
    result = report(runs, info)
    (BENCH / "results.json").write_text(json.dumps(result, indent=2, default=str))
    chart(runs, BENCH / "chart.png")
    say(f"wrote {BENCH / 'results.json'} and {BENCH / 'chart.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
