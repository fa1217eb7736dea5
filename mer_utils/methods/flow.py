"""The optical-flow baseline (:mod:`mer_utils.flow`): kind ``flow``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import flow
from .base import Method


class Flow(Method):
    """Region features of the onset-apex flow, computed once per clip, and a scaled linear
    classifier fitted on each training part.

    It has no epochs and no model selection: the validation part of each split is left unused,
    so that it trains on exactly the training part the 3D CNN trains on and is tested on exactly
    the same test part. Class weights, when the entry asks for them, are scikit-learn's
    ``"balanced"`` weights N / (K n_k): Eq. 1 divided by the number of classes K. An entry's
    ``keyframe_size`` shrinks the key frames before the flow is measured (e.g. to the 3D CNN's
    input size, so that the two are compared at one resolution).
    """

    kind = "flow"
    reads = "flow"
    allowed = frozenset({"class_weight"})
    sections = frozenset({"flow-figure"})

    @classmethod
    def params_for(cls, name: str, entry: dict, profile: Any) -> dict:
        size = keyframe_size(entry, profile)
        return {
            "kind": cls.kind,
            "class_weight": bool(entry["class_weight"]),
            **({"keyframe_size": size} if size else {}),
            **flow.PARAMETERS,
        }

    def describe_inputs(self) -> str:
        size = keyframe_size(self.entry, self.profile) or self.profile.get("keyframe_size", 128)
        return f"onset-apex flow at {size} px"

    def build(self, clips: Any, X: np.ndarray, seed: int) -> "Flow":
        size = keyframe_size(self.entry, self.profile)
        self.inputs = flow.features(clips if size is None else flow.resized(clips, int(size)))
        return self

    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        """Fit scaler and classifier on the training part only; predict the test part (a
        training part with one class predicts that class) and, with the same fitted model, the
        training part itself (how well it fitted what it was trained on)."""
        n = len(X_test)
        both = np.concatenate([np.asarray(X_test), np.asarray(X_train)])
        pred = flow.classify(X_train, y_train, both, weights is not None, seed)
        return pred[:n], {"epochs": None, "best_epoch": None, "train_pred": pred[n:]}

    def precision(self) -> str:
        return "float64"


def keyframe_size(entry: dict, profile: Any) -> int | None:
    """The key-frame size the method shrinks to (``cnn``: the profile's frame size), or None
    for the stage-1 key frames as they are."""
    size = entry.get("keyframe_size")
    if size is None:
        return None
    return int(profile["size"]) if size == "cnn" else int(size)


PLUGIN = Flow
