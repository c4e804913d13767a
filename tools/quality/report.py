"""What `make quality` shows: a markdown table, a chart, and a contact sheet of the worst.

The contact sheet has, per set, the images where the default pipeline scored worst, as rows
of input | ground truth | ours | rembg (same model), so that people can look, not only read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tools.quality.dataset import Pair

THUMB_WIDTH = 240
WORST_PER_SET = 3
# Headline metric per kind of set, and whether higher is better.
HEADLINE = {False: ("iou", True), True: ("sad", False)}


def keep_thumbnail(row: dict, pair: Pair, alpha: np.ndarray) -> None:
    """Attach small images of this result to its row (the sheet is drawn from them)."""
    w = THUMB_WIDTH
    h = max(1, round(pair.image.height * w / pair.image.width))

    def grey(a: np.ndarray) -> Image.Image:
        return Image.fromarray(np.rint(a * 255).astype(np.uint8), "L").resize((w, h))

    row["thumbnail"] = {"input": pair.image.resize((w, h)), "gt": grey(pair.alpha),
                        "alpha": grey(alpha)}


def table(results: dict) -> str:
    """Markdown: one row per model and variant; per set its headline metrics and ms/image."""
    sets = results["sets"]
    head = ["model", "variant"]
    for name, info in sets.items():
        head += ([f"{name} SAD/1000", f"{name} grad", f"{name} MAE"] if info["soft"]
                 else [f"{name} IoU", f"{name} MAE"])
        head.append(f"{name} ms")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, variants in results["summary"].items():
        for variant, per_set in variants.items():
            cells = [model, variant]
            for name, info in sets.items():
                m = per_set.get(name, {})
                keys = ("sad", "grad", "mae") if info["soft"] else ("iou", "mae")
                cells += [f"{m[k]:.3f}" if k in m else "" for k in keys]
                cells.append(f"{m['ms_per_image']:.0f}" if m else "")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(results: dict, path: Path) -> None:
    """Grouped bars: headline metric per set, one bar per model and variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = results["sets"]
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4.5), squeeze=False)
    labels = [(m, v) for m, vs in results["summary"].items() for v in vs]
    for ax, (name, info) in zip(axes[0], sets.items(), strict=True):
        key, _ = HEADLINE[info["soft"]]
        values = [results["summary"][m][v].get(name, {}).get(key, 0.0) for m, v in labels]
        colours = ["#9aa0a6" if v == "rembg" else "#1a73e8" for _, v in labels]
        ax.barh(range(len(labels)), values, color=colours)
        ax.set_yticks(range(len(labels)), [f"{m} {v}" for m, v in labels], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{name}: {'SAD/1000 (lower is better)' if info['soft'] else 'IoU'}")
        if not info["soft"]:
            ax.set_xlim(min(values) - 0.05 if values else 0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def contact_sheet(results: dict, path: Path) -> None:
    """Worst images of the default pipeline per set: input | truth | ours | rembg."""
    model, variant = results["default"]
    rows = results["per_image"]
    peers = {(r["set"], r["image"]): r for r in rows
             if r["model"] == model and r["variant"] == "rembg" and "thumbnail" in r}
    strips = []
    for name, info in results["sets"].items():
        key, higher_better = HEADLINE[info["soft"]]
        ours = [r for r in rows if r["model"] == model and r["variant"] == variant
                and r["set"] == name and "thumbnail" in r]
        ours.sort(key=lambda r: r[key], reverse=not higher_better)
        for r in ours[:WORST_PER_SET]:
            peer = peers.get((name, r["image"]))
            t = r["thumbnail"]
            tiles = [t["input"], t["gt"].convert("RGB"), t["alpha"].convert("RGB"),
                     (peer["thumbnail"]["alpha"] if peer else t["gt"]).convert("RGB")]
            caption = (f"{name}/{r['image']}  {key} ours {r[key]:.3f}"
                       + (f"  rembg {peer[key]:.3f}" if peer else ""))
            strips.append((tiles, caption))
    if not strips:
        return
    w = THUMB_WIDTH
    height = sum(tiles[0].height + 18 for tiles, _ in strips)
    sheet = Image.new("RGB", (4 * w, height + 18), "white")
    draw = ImageDraw.Draw(sheet)
    for i, head in enumerate(("input", "ground truth", f"ours ({model} {variant})",
                              f"rembg ({model})")):
        draw.text((i * w + 4, 3), head, fill="black")
    y = 18
    for tiles, caption in strips:
        draw.text((4, y + 3), caption, fill="black")
        for i, tile in enumerate(tiles):
            sheet.paste(tile, (i * w, y + 18))
        y += tiles[0].height + 18
    sheet.save(path)


def write(results: dict, out: Path) -> None:
    chart(results, out / "chart.png")
    contact_sheet(results, out / "worst.png")
    (out / "table.md").write_text(table(results) + "\n")
