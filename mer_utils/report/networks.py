"""What the book shows of the methods' models and inputs: the layers of a network as built, the
flow of example clips, the augmentation policy in words.

These helpers only describe: no fit calls them, so they sit here, outside every fold key's code
(:mod:`mer_utils.code`), and editing them refits nothing.
"""

from __future__ import annotations

import numpy as np

from .. import augment, config, flow, flownets, models
from ..config import CLASSES
from .text import say


def cnn_layers(profile) -> list[dict]:
    """Every layer of the 3D CNN as built for ``profile``: name, type, output shape, weights,
    and a total row."""
    shape = (profile["n_frames"], profile["size"], profile["size"], 1)
    return _layers(models.model_for_profile(shape, profile))


def flownet_layers(method: str) -> list[dict]:
    """Every layer of the network of ``methods.yaml`` entry ``method`` (a flownet method), and a
    total row."""
    return _layers(flownets.build(config.method(method)["network"]))


def _layers(model) -> list[dict]:
    rows = [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": str(tuple(layer.output.shape[1:])),
            "weights": int(layer.count_params()),
        }
        for layer in model.layers
    ]
    total = {"layer": "total", "type": "", "output shape": "", "weights": int(model.count_params())}
    return [*rows, total]


def flow_examples(clips, seed: int = 0, step: int = 6) -> list[dict]:
    """The flow of one random clip per class (CLASSES order), ready to draw: key frames,
    region outlines, and the head-motion-compensated flow sampled every ``step`` pixels inside
    the regions, with the factor that makes the 95th percentile of its magnitudes
    ``1.5 * step`` pixels long (sub-pixel motion made visible).

    Returns ``[{"label", "clip", "apex_rule", "onset", "apex", "polygons", "x", "y", "u", "v",
    "scale"}]``; the book draws it with :func:`mer_utils.report.stages.flow_figure`.
    """
    labels = clips.rows["label"].to_numpy()
    rng = np.random.default_rng(seed)
    out = []
    for label in [c for c in CLASSES if (labels == c).any()]:
        i = int(rng.choice(np.flatnonzero(labels == label)))
        onset, apex = clips.keyframes[i]
        points = clips.landmarks[i]
        size = onset.shape[0]
        masks = flow.region_masks(points, size, flow.masked_pixels(onset, apex))
        field = flow.compensate(flow.compute_flow(onset, apex), masks)
        union = np.logical_or.reduce(list(masks.values()))
        yy, xx = np.mgrid[step // 2 : size : step, step // 2 : size : step]
        keep = union[yy, xx]
        u, v = field[yy, xx, 0][keep], field[yy, xx, 1][keep]
        mag = np.hypot(u, v)
        scale = 1.5 * step / max(float(np.percentile(mag, 95)) if mag.size else 0.0, 1e-3)
        row = clips.rows.iloc[i]
        out.append(
            {
                "label": label,
                "clip": f"{row['subject']}/{row['clip']}",
                "apex_rule": row.get("apex_rule", "?"),
                "onset": onset,
                "apex": apex,
                "polygons": flow.region_polygons(points),
                "x": xx[keep],
                "y": yy[keep],
                "u": u,
                "v": v,
                "scale": scale,
            }
        )
    return out


def policy_text(policy: dict | None = None) -> str:
    """The policy as one sentence of the book (the book's single source of it)."""
    p = {**augment.POLICY, **(policy or {})}
    side = 100 * augment.zoom_fraction(p["crop_area_fraction"])
    return say(
        "networks.policy",
        rotation=f"{p['rotation_degrees']:g}",
        kept=f"{100 * (1 - p['crop_area_fraction']):g}",
        side=f"{side:.1f}",
        contrast=f"{100 * p['contrast']:g}",
        brightness=f"{100 * p['brightness']:g}",
        factor=f"{p['factor']:g}",
    )
