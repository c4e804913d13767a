"""Model families: how a network of each family sees a photo and what its output means.

A model is a row of the catalogue (shared/catalogue.py); its family owns the pre- and
post-processing, as rembg's session classes do for the same files (rembg/sessions/*.py):
Lanczos resize to a square side, scale by the image's maximum, (x - mean) / std per channel,
NCHW float32; then one output's first channel, a sigmoid where the network emits logits, and
a min-max stretch to [0, 1]. Adding a variant of a known family is one catalogue row.
"""

from __future__ import annotations

from dataclasses import dataclass

Normalisation = tuple[tuple[float, float, float], tuple[float, float, float]]

IMAGENET: Normalisation = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# rembg's DIS sessions (isnet-general-use, isnet-anime): ImageNet's mean, no std division.
IMAGENET_MEAN_ONLY: Normalisation = ((0.485, 0.456, 0.406), (1.0, 1.0, 1.0))
CENTRED: Normalisation = ((0.5, 0.5, 0.5), (1.0, 1.0, 1.0))


@dataclass(frozen=True)
class Family:
    """What every model of one architecture shares (a row may override side and normalisation)."""

    name: str
    input_size: int
    normalisation: Normalisation
    # Which of the session's outputs holds the final map (rembg reads ort_outs[0] for all).
    output: int = 0
    # BiRefNet emits logits; the others end in a sigmoid inside the graph.
    sigmoid: bool = False
    # rembg stretches every map to [0, 1] by its own min and max.
    minmax: bool = True
    # Whether upstream files declare a symbolic batch axis. None of rembg's do (batch 1);
    # the worker batches only where the loaded file's input says so (worker/inference.py).
    batch_axis: bool = False
    # Where the figures above come from.
    reference: str = ""


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("u2net", 320, IMAGENET,
               reference="rembg/sessions/u2net.py, u2netp.py, u2net_human_seg.py, silueta.py"),
        Family("isnet", 1024, IMAGENET_MEAN_ONLY,
               reference="rembg/sessions/dis_general_use.py, dis_anime.py, dis_custom.py"),
        Family("birefnet", 1024, IMAGENET, sigmoid=True,
               reference="rembg/sessions/birefnet_general.py (and its subclasses)"),
        Family("ben", 1024, CENTRED, reference="rembg/sessions/ben_custom.py"),
        # BRIA RMBG-2.0 is a BiRefNet trained by BRIA, exported with its sigmoid inside.
        Family("bria", 1024, IMAGENET, reference="rembg/sessions/bria_rmbg.py"),
    )
}


def family(name: str) -> Family:
    """The family called `name`; ValueError naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown family {name!r} (known: {', '.join(FAMILIES)})") from None
