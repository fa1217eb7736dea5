"""A network of the field on the onset-apex flow (:mod:`mer_utils.flownets`: STSTNet,
OFF-ApexNet): kind ``flownet``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import flow, flownets, models
from .base import Method

FLOW_STAGE = ("flow", "global_motion", "mask_margin_px", "regions")
"""The settings of the flow stage a ``flownet`` method shares with the flow baseline."""


class FlowNet(Method):
    """Built once and reset before every fold like :class:`mer_utils.methods.cnn.CNN`.

    Every epoch runs; the fold keeps the test predictions of each epoch, and reports those of the
    epoch with the lowest validation loss (honest). :func:`mer_utils.flownets.select` scores the
    same training again with the epoch chosen on the test part.
    """

    kind = "flownet"
    reads = "flow"
    allowed = frozenset()
    sections = frozenset({"network"})

    @classmethod
    def params_for(cls, name: str, entry: dict, profile: Any) -> dict:
        return {
            "kind": cls.kind,
            "network": entry["network"],
            "epochs": epochs(entry, profile),
            "input": {"size": flownets.SIZE, "channels": list(flownets.CHANNELS)},
            "training": dict(flownets.TRAINING),
            "flow": {k: v for k, v in flow.PARAMETERS.items() if k in FLOW_STAGE},
        }

    def describe_inputs(self) -> str:
        channels = ", ".join(flownets.CHANNELS)
        return f"onset-apex flow ({channels}) at {flownets.SIZE} px"

    def build(self, clips: Any, X: np.ndarray, seed: int) -> "FlowNet":
        self.inputs = flownets.flow_images(clips)
        self.epochs = epochs(self.entry, self.profile)
        network = self.entry["network"]
        self.model, self.fresh = models.fresh_model(lambda: flownets.build(network, seed), seed)
        return self

    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        """Train every epoch, keep each epoch's test predictions, report the honest epoch's."""
        models.restore(self.model, self.fresh)
        X_train, X_val, X_test = flownets.standardise(X_train, X_val, X_test)
        fit = flownets.train_by_epoch(
            self.model, X_train, y_train, X_val, y_val, X_test, self.epochs, seed
        )
        best = flownets.honest_epoch(fit["val_loss"])
        pred = np.asarray(fit["test_by_epoch"][best - 1], dtype=int)
        train_pred = np.asarray(fit.pop("train_by_epoch")[best - 1], dtype=int)
        return pred, {"epochs": self.epochs, "best_epoch": best, "train_pred": train_pred, **fit}


def epochs(entry: dict, profile: Any) -> int:
    """The epochs a ``flownet`` method trains: ``epoch_factor`` x the profile's ``epochs``."""
    return int(entry.get("epoch_factor", 1)) * int(profile["epochs"])


PLUGIN = FlowNet
