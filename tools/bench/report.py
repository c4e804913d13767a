"""The table, the ratios of one run, and the chart."""

from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path

from tools.bench import colour, segment
from tools.bench.common import SIZES, Run


def report(runs: list[Run], info: dict) -> dict:
    """Print the table and the target ratios; return everything for results.json."""
    def find(system: str, size: str, clients: int) -> Run | None:
        return next((r for r in runs if r.system == system and r.size == size
                     and r.clients == clients), None)

    print(f"\nmachine: {info['cores']} cores, {info['cpu_line']}, {info['memory_gb']} GB, "
          f"onnxruntime {info['onnxruntime']}\n")
    head = (f"{'system':<36}{'size':<11}{'clients':>7}{'img/s':>8}{'p50 s':>8}{'p95 s':>8}"
            f"{'errors':>7}{'out KB':>8}{'ovh ms':>8}{'RSS MB':>8}")
    print(head)
    print("-" * len(head))
    for r in runs:
        if r.system == "api-memory":
            continue
        s = r.summary()
        rss = s.get("worker_rss_mb") or s.get("server_rss_mb") or ""
        out_kb = f"{s['output_bytes'] / 1024:.0f}" if s["output_bytes"] else ""
        ovh = s["overhead_p50_ms"] if s["overhead_p50_ms"] is not None else ""
        print(f"{r.system:<36}{r.size:<11}{r.clients:>7}{s['images_per_s']:>8.2f}"
              f"{s['p50_s']:>8.2f}{s['p95_s']:>8.2f}{r.errors:>7}{out_kb:>8}{ovh!s:>8}{rss!s:>8}")
    ratios = {}
    for system in sorted({r.system for r in runs if r.system.startswith("api ")
                          and r.system != "api upload"}):
        for size in SIZES:
            for clients in (4, 1):
                ours, peer = find(system, size, clients), find("rembg s", size, clients)
                if ours and peer:
                    ratios[f"{size} {clients} client(s): {system}/peer img/s"] = round(
                        ours.rate / peer.rate, 2)
                    ratios[f"{size} {clients} client(s): {system}/peer p50"] = round(
                        ours.pct(50) / peer.pct(50), 2)
    for srgb in (r for r in runs if r.system == "colour srgb"):
        adobe = find("colour adobe-rgb", srgb.size, srgb.clients)
        if adobe:
            ratios[f"{srgb.size} {srgb.clients} client(s): colour adobe-rgb/srgb img/s"
                   " (median rounds)"] = colour.ratio(srgb, adobe)
            pairs = colour.paired(srgb, adobe)
            if pairs is not None:
                ratios[f"{srgb.size} {srgb.clients} client(s): colour adobe-rgb/srgb img/s"
                       " (median of round pairs)"] = pairs
            for run in (srgb, adobe):
                if "rounds" in run.extra:
                    ratios[f"{run.system} img/s per round"] = run.extra["rounds"]
            for stage in ("decode", "worker"):
                if f"{stage}_p50_ms" in srgb.extra and f"{stage}_p50_ms" in adobe.extra:
                    ratios[f"colour {stage} p50 ms per job, srgb / adobe-rgb"] = (
                        srgb.extra[f"{stage}_p50_ms"], adobe.extra[f"{stage}_p50_ms"])
    for size in SIZES:
        api4, peer4 = find("api", size, 4), find("rembg s", size, 4)
        api1, peer1 = find("api", size, 1), find("rembg s", size, 1)
        ceil = max((r for r in runs if r.system.startswith("rembg.remove") and r.size == size),
                   key=lambda r: r.rate, default=None)
        if api4 and peer4:
            ratios[f"{size} 4 clients: api/peer"] = round(api4.rate / peer4.rate, 2)
        upload4 = find("api upload", size, 4)
        if upload4 and peer4:
            ratios[f"{size} 4 clients: api upload/peer (both uploads)"] = round(
                upload4.rate / peer4.rate, 2)
        upload1 = find("api upload", size, 1)
        if upload1 and peer1:
            ratios[f"{size} 1 client: p50 api upload/peer"] = round(
                upload1.pct(50) / peer1.pct(50), 2)
        if api4 and ceil:
            ratios[f"{size} 4 clients: api/ceiling ({ceil.system})"] = round(
                api4.rate / ceil.rate, 2)
        if api1 and peer1:
            ratios[f"{size} 1 client: p50 api/peer"] = round(api1.pct(50) / peer1.pct(50), 2)
        if api1 and api1.overhead_ms:
            ratios[f"{size} 1 client: gateway+queue overhead p50 ms"] = round(
                statistics.median(api1.overhead_ms), 1)
        if api4 and ceil and api4.output_bytes and ceil.output_bytes:
            ratios[f"{size}: output bytes api/rembg"] = round(
                statistics.median(api4.output_bytes) / statistics.median(ceil.output_bytes), 3)
    ratios.update(segment.ratios(runs))
    mem = next((r for r in runs if r.system == "api-memory"), None)
    if mem:
        ratios["worker RSS after 500 / after 50"] = round(
            mem.extra["rss_after_500_mb"] / mem.extra["rss_after_50_mb"], 3)
    print("\nratios (same run):")
    for name, value in ratios.items():
        print(f"  {name:<58} {value}")
    return {"machine": info, "runs": [r.summary() for r in runs], "ratios": ratios,
            "raw": [asdict(r) for r in runs]}


def chart(runs: list[Run], path: Path) -> None:
    """Images/s by clients for the API and the peer, the ceiling as a line; one panel a size."""
    from PIL import Image, ImageDraw

    sizes = sorted({r.size for r in runs if r.system != "api-memory"})
    width, panel = 900, 320
    img = Image.new("RGB", (width, panel * len(sizes)), "white")
    draw = ImageDraw.Draw(img)
    colours = {"api": (46, 194, 126), "api int8": (20, 120, 60), "api upload": (30, 120, 200),
               "rembg s": (168, 85, 247)}
    for i, size in enumerate(sizes):
        top = i * panel
        data = [r for r in runs if r.size == size and r.system in colours]
        ceil = max((r.rate for r in runs if r.size == size
                    and r.system.startswith("rembg.remove")), default=0)
        top_rate = max([r.rate for r in data] + [ceil, 0.1]) * 1.15
        draw.text((10, top + 8), f"{size}: images/s by concurrent clients "
                  "(green: this API, purple: rembg s, line: rembg.remove() ceiling)", fill="black")
        levels = sorted({r.clients for r in data})
        base_y, scale = top + panel - 30, (panel - 70) / top_rate
        for j, clients in enumerate(levels):
            x0 = 60 + j * (width - 80) // max(len(levels), 1)
            for k, system in enumerate(colours):
                run = next((r for r in data if r.system == system and r.clients == clients), None)
                if run is None:
                    continue
                x = x0 + k * 60
                draw.rectangle([x, base_y - run.rate * scale, x + 50, base_y],
                               fill=colours[system])
                draw.text((x + 2, base_y - run.rate * scale - 14), f"{run.rate:.2f}",
                          fill="black")
            draw.text((x0 + 40, base_y + 6), f"{clients} client(s)", fill="black")
        if ceil:
            y = base_y - ceil * scale
            draw.line([40, y, width - 10, y], fill=(200, 0, 0), width=2)
            draw.text((width - 120, y - 14), f"ceiling {ceil:.2f}", fill=(200, 0, 0))
    img.save(path)
