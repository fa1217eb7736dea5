"""Stage 2 on a set of samples: the paper's augmentation, then SMOTE, keeping for every
sample the clip(s) it was made from (:class:`Pool`), and the class weights of Eq. 1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .. import augment, balance
from ..config import CLASSES


@dataclass
class Pool:
    """Samples after resampling. ``origin`` is the clip (row of the clip table) each sample comes
    from; a SMOTE interpolation has two, ``origin`` and ``origin_b`` (-1 for every other
    sample). ``kind`` is ``original``, ``augmented``, ``synthetic`` (SMOTE) or ``window``."""

    X: np.ndarray
    y: np.ndarray
    origin: np.ndarray
    kind: np.ndarray
    smote_info: dict | None
    origin_b: np.ndarray | None = None

    def __post_init__(self):
        if self.origin_b is None:
            self.origin_b = np.full(len(self.y), -1)

    def sources(self, idx: np.ndarray) -> set[int]:
        """The clips the samples ``idx`` were made from."""
        idx = np.asarray(idx, dtype=int)
        return (set(self.origin[idx].tolist()) | set(self.origin_b[idx].tolist())) - {-1}


def originals(X: np.ndarray, y: np.ndarray) -> Pool:
    """Every clip once, as it is."""
    n = len(y)
    return Pool(X, np.asarray(y, dtype=int), np.arange(n), np.full(n, "original"), None)


def resample_pool(
    X: np.ndarray, y: np.ndarray, switches: dict, profile: Mapping, seed: int
) -> Pool:
    """A method's resampling of ``(X, y)``: augmentation (the profile's policy and factor), then
    SMOTE, with each sample's origin. Applied to a training part, or, under a protocol that
    resamples before the split (``paper-leaky``), to the whole dataset."""
    n = len(y)
    origin, kind, smote_info = np.arange(n), np.full(n, "original", dtype=object), None
    origin_b = np.full(n, -1)
    if switches["augment"]:
        policy = profile["augmentation"]
        factor = int(policy["factor"])
        X, y = augment.augment_clips(X, y, factor, seed=seed, policy=policy)
        origin = np.tile(origin, factor)
        origin_b = np.full(len(y), -1)
        kind = np.concatenate([kind, np.full(len(y) - n, "augmented", dtype=object)])
    if switches["smote"]:
        before = len(y)
        X, y, smote_info = balance.smote(X, y, seed=seed)
        pairs = np.asarray(smote_info["sources"], dtype=int).reshape(-1, 2)
        source = origin.copy()
        origin = np.concatenate([source, source[pairs[:, 0]]]).astype(int)
        origin_b = np.concatenate([origin_b, source[pairs[:, 1]]]).astype(int)
        kind = np.concatenate([kind, np.full(len(y) - before, "synthetic", dtype=object)])
    return Pool(X, np.asarray(y, dtype=int), origin, kind.astype(str), smote_info, origin_b)


def training_weights(y: np.ndarray, switches: dict) -> dict[int, float] | None:
    """The class weights of Eq. 1 on a (resampled) training part, where the method uses them."""
    return balance.class_weights(y, len(CLASSES)) if switches["class_weight"] else None
