"""`make quality`: every installed model, every pipeline variant, scored on ground truth.

For each model the same run scores rembg's own output (the peer), our inference with
rembg's post-processing ("none": should match the peer), the guided-filter refinement
("guided", the default), and refinement after a mirrored second pass ("guided+flip"), once
per precision in QUALITY_PRECISIONS (default fp32; "fp32,int8" adds "guided int8" and so
on); then an ensemble of every installed model. The model runs once per image (and once mirrored);
each variant's time per image is that inference time plus its own post-processing.
Writes .quality/results.json, chart.png and worst.png (see report.py).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from shared.config import Settings
from tools.quality import report, scores
from tools.quality.dataset import Pair, load
from tools.quality.peer import rembg_alpha, rembg_session
from tools.quality.synthetic import pairs as synthetic_pairs
from worker import refine, segment
from worker.inference import Segmenter
from worker.sessions import load_segmenter

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "quality"
VARIANTS = ("rembg", "none", "guided", "guided+flip")


def installed_models(home: Path, settings: Settings) -> list[str]:
    """Every catalogue model (MODELS_FILE's included) whose weights are in home."""
    return [name for name, spec in settings.catalogue.items()
            if (home / spec.filename).is_file()]


def _timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def _alpha(mask: Image.Image) -> np.ndarray:
    return np.asarray(mask, np.float32) / 255.0


def run_model(segs: dict[str, Segmenter], peer, pair: Pair) -> tuple[dict, dict, np.ndarray]:
    """Alphas and seconds per variant for one image; also the model's (flip-averaged) map.

    segs holds one segmenter per precision (QUALITY_PRECISIONS), the first one unnamed in
    the variant names ("guided"), the others suffixed ("guided int8"); the returned map, for
    the ensemble, is the first precision's.
    """
    alphas, seconds = {}, {}
    if peer is not None:  # rembg has no session for custom BiRefNet / BRIA files
        alphas["rembg"], seconds["rembg"] = _timed(rembg_alpha, peer, pair.image)
    first = None
    for i, (precision, seg) in enumerate(segs.items()):
        suffix = "" if i == 0 else f" {precision}"
        x = seg.prepare(pair.image)[None]
        plain, t_plain = _timed(lambda seg=seg, x=x: seg.run(x)[0])
        mirrored, t_mirror = _timed(
            lambda seg=seg, x=x: seg.run(np.ascontiguousarray(x[..., ::-1]))[0])
        both = 0.5 * (plain + mirrored[:, ::-1])
        first = both if first is None else first
        for name, prob, t_model in (("none", plain, t_plain), ("guided", plain, t_plain),
                                    ("guided+flip", both, t_plain + t_mirror)):
            mode = "none" if name == "none" else "guided"
            mask, t_post = _timed(segment.mask_from_map, pair.image, prob, mode)
            alphas[name + suffix], seconds[name + suffix] = _alpha(mask), t_model + t_post
    return alphas, seconds, first


def _mean_maps(maps: list[np.ndarray]) -> np.ndarray:
    side = max(m.shape[0] for m in maps)
    return np.mean([refine.upsample(m, (side, side)) for m in maps], axis=0)


def evaluate(sets: list[list[Pair]], models: list[str], settings: Settings, threads: int,
             thumbs_for: tuple[str, str], precisions: tuple[str, ...] = ("fp32",)) -> dict:
    results: dict = {"models": {}, "sets": {}, "per_image": []}
    ensemble_maps: dict[tuple[str, str], list[np.ndarray]] = {}
    ensemble_secs: dict[tuple[str, str], float] = {}
    for name in models:
        segs = {p: load_segmenter(settings, name, p) for p in precisions
                if p in settings.catalogue[name].precisions}
        # A model without derived files has fp32 only, whatever QUALITY_PRECISIONS asks.
        segs = segs or {"fp32": load_segmenter(settings, name, "fp32")}
        peer = rembg_session(name, Path(settings.u2net_home), threads, settings.models_file)
        for pairs in sets:
            for pair in pairs:
                alphas, seconds, both = run_model(segs, peer, pair)
                ensemble_maps.setdefault((pair.set_name, pair.stem), []).append(both)
                ensemble_secs[(pair.set_name, pair.stem)] = (
                    ensemble_secs.get((pair.set_name, pair.stem), 0.0) + seconds["guided+flip"])
                for variant, alpha in alphas.items():
                    row = {"model": name, "variant": variant, "set": pair.set_name,
                           "image": pair.stem, "seconds": seconds[variant],
                           "megapixels": pair.image.width * pair.image.height / 1e6,
                           **scores.score(alpha, pair.alpha, pair.soft, pair.valid)}
                    if (name, variant) in (thumbs_for, (thumbs_for[0], "rembg")):
                        report.keep_thumbnail(row, pair, alpha)
                    results["per_image"].append(row)
            print(f"[quality] {name}: {pairs[0].set_name} done", flush=True)
    if len(models) > 1:
        for pairs in sets:
            for pair in pairs:
                key = (pair.set_name, pair.stem)
                mask, t_post = _timed(segment.mask_from_map, pair.image,
                                      _mean_maps(ensemble_maps[key]), "guided")
                results["per_image"].append({
                    "model": "+".join(models), "variant": "guided+flip", "set": pair.set_name,
                    "image": pair.stem, "seconds": ensemble_secs[key] + t_post,
                    "megapixels": pair.image.width * pair.image.height / 1e6,
                    **scores.score(_alpha(mask), pair.alpha, pair.soft, pair.valid)})
    for pairs in sets:
        results["sets"][pairs[0].set_name] = {"pairs": len(pairs), "soft": pairs[0].soft}
    results["summary"] = summarise(results["per_image"])
    return results


def summarise(rows: list[dict]) -> dict:
    """Mean of every metric per model, variant and set; time as ms per image."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["variant"], row["set"]), []).append(row)
    out: dict = {}
    for (model, variant, set_name), group in groups.items():
        keys = [k for k in group[0] if isinstance(group[0][k], float) and k != "megapixels"]
        means = {k: float(np.mean([r[k] for r in group])) for k in keys}
        means["ms_per_image"] = 1000 * means.pop("seconds")
        out.setdefault(model, {}).setdefault(variant, {})[set_name] = means
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("DATA") or str(DEFAULT_DATA))
    parser.add_argument("--models", default=os.environ.get("QUALITY_MODELS", ""))
    parser.add_argument("--limit", type=int, default=int(os.environ.get("LIMIT") or 0))
    parser.add_argument("--threads", type=int, default=2)
    # e.g. "fp32,int8": each model's variants once per precision (docs/models.md, Quality).
    parser.add_argument("--precisions", default=os.environ.get("QUALITY_PRECISIONS", "fp32"))
    parser.add_argument("--out", default=".quality")
    args = parser.parse_args()
    settings = Settings.from_env(app_env="development", ort_intra_op_threads=args.threads,
                                 ort_providers="CPUExecutionProvider")
    home = Path(settings.u2net_home)
    models = [m for m in args.models.split(",") if m] or installed_models(home, settings)
    data = Path(args.data)
    if data.is_dir():
        sets = list(load(data, args.limit or None))
    else:
        print(f"[quality] {data} not found: scoring the built-in synthetic pairs instead")
        sets = [synthetic_pairs()]
    default = (settings.model_name if settings.model_name in models else models[0], "guided")
    precisions = tuple(p for p in args.precisions.split(",") if p)
    results = evaluate(sets, models, settings, args.threads, default, precisions)
    results.update(data=str(data), default=list(default), threads=args.threads,
                   precisions=list(precisions))
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    report.write(results, out)
    thumbs = [r.pop("thumbnail", None) for r in results["per_image"]]
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    del thumbs
    print(report.table(results))
    print(f"[quality] wrote {out}/results.json, chart.png, worst.png")


if __name__ == "__main__":
    main()
