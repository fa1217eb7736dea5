"""The paper's 3D CNN (:mod:`mer_utils.models`) with one method's switches: kind ``cnn``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import flownets, models
from .base import Method


class CNN(Method):
    """The paper's 3D CNN with one method's switches, built once and reset before every fold.

    Its reported predictions are those of the epoch early stopping restores (lowest validation
    loss); the test predictions of every epoch run are kept beside them, so that the same
    training can be scored again with the epoch chosen on the test part
    (:func:`mer_utils.experiment.rescored`).

    Building and tracing a Keras model costs 1-2 s, more than a fold's training on small data:
    the model is built once with the run seed and its fresh state (weights, dropout seeds,
    optimizer) restored before each fold (:func:`mer_utils.models.snapshot`).
    """

    kind = "cnn"
    reads = "frames"

    @classmethod
    def params_for(cls, name: str, entry: dict, profile: Any) -> dict:
        return {
            "kind": cls.kind,
            "inputs": entry.get("inputs", "frames"),
            **{k: bool(entry[k]) for k in ("augment", "smote", "class_weight")},
            "augmentation": profile["augmentation"] if entry["augment"] else None,
        }

    def describe_inputs(self) -> str:
        inputs = self.entry.get("inputs", "frames")
        what = "onset-subtracted frames" if inputs == "onset_difference" else "frames"
        return f"{self.profile['n_frames']} {what} at {self.profile['size']} px"

    def build(self, clips: Any, X: np.ndarray, seed: int) -> "CNN":
        self.inputs = X
        inputs_as = self.entry.get("inputs", "frames")
        shape = tuple(X.shape[1:])
        self.model, self.fresh = models.fresh_model(
            lambda: models.model_for_profile(shape, self.profile, inputs_as=inputs_as, seed=seed),
            seed,
        )
        return self

    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        models.restore(self.model, self.fresh)
        each = flownets.epoch_callback(X_test)  # watches only: the test predictions per epoch
        fit = models.train(
            self.model,
            X_train,
            y_train,
            X_val,
            y_val,
            self.profile,
            class_weight=weights,
            seed=seed,
            callbacks=[each],
        )
        batch = int(self.profile["batch_size"])
        pred = models.predict(self.model, X_test, batch_size=batch)
        return pred, {
            "epochs": fit["epochs"],
            "best_epoch": fit["best_epoch"],
            "train_pred": models.predict(self.model, X_train, batch_size=batch),
            "test_by_epoch": each.predictions,
            "val_loss": fit["history"]["val_loss"],
        }

    def precision(self) -> str:
        return models.precision_policy(self.profile)


PLUGIN = CNN
