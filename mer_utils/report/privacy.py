"""Licensed faces stay private: which subjects' faces a page may show.

Dataset licences restrict where participants' faces may appear; typically only participants who
consented may be shown in publications. So when a page runs on a **licensed** dataset, every
figure that shows face pixels (the stage-1 steps and montage, onset and apex frames, augmentation
examples, flow fields over the face) is drawn only from subjects listed in the dataset's
``publishable_subjects`` (``datasets.yaml``, empty by default); with none, the figure is replaced
by :func:`note`. Stand-ins are synthetic faces made from a public photograph: unaffected.

The notebooks filter what they pass to a face figure (:func:`table`, :func:`clips`,
:func:`positions`) and the figure functions draw a note when they receive nothing. Face-figure
cells carry the cell metadata ``{"mer": {"faces": true}}`` so the tests can check, on a licensed
copy, that none of them holds an image.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from IPython.display import Markdown

from .. import config
from ..datasets import display_name
from .text import say


def allowed(dataset: str, data_kind: str) -> set[str] | None:
    """Subjects whose faces may be shown: ``None`` (all) for a stand-in, else the dataset's
    ``publishable_subjects``."""
    if data_kind == "stand-in":
        return None
    if data_kind != "licensed":
        raise ValueError(f"data_kind must be 'stand-in' or 'licensed', got {data_kind!r}")
    return {str(s) for s in config.dataset_info(dataset).get("publishable_subjects") or []}


def table(rows: pd.DataFrame, dataset: str, data_kind: str) -> pd.DataFrame:
    """The rows (loader table or clip rows) whose subject may be shown."""
    ok = allowed(dataset, data_kind)
    return rows if ok is None else rows[rows["subject"].astype(str).isin(ok)]


def positions(rows: pd.DataFrame, idx, dataset: str, data_kind: str) -> np.ndarray:
    """The positions ``idx`` into ``rows`` whose subject may be shown."""
    idx = np.asarray(idx)
    ok = allowed(dataset, data_kind)
    if ok is None:
        return idx
    return idx[np.isin(rows["subject"].astype(str).to_numpy()[idx], sorted(ok))]


def clips(clipset, dataset: str, data_kind: str):
    """A ClipSet restricted to the clips whose subject may be shown (tensors, rows, key frames
    and landmarks alike)."""
    ok = allowed(dataset, data_kind)
    if ok is None:
        return clipset
    keep = np.flatnonzero(clipset.rows["subject"].astype(str).isin(ok).to_numpy())
    fields = {"X": clipset.X[keep], "rows": clipset.rows.iloc[keep].reset_index(drop=True)}
    for name in ("keyframes", "landmarks"):
        value = getattr(clipset, name, None)
        if value is not None:
            fields[name] = value[keep]
    return dataclasses.replace(clipset, **fields)


def note(dataset: str | None = None) -> Markdown:
    """What a face figure shows when no face of a licensed dataset may be published."""
    name = display_name(dataset) if dataset else say("privacy.this_dataset")
    return Markdown(f":::{{note}}\n{say('privacy.no_face', dataset=name)}\n:::")
