"""The methods the study evaluates: the paper's 3D CNN variants and the optical-flow baseline.

A method is an entry of ``methods.yaml``: its kind (``cnn`` or ``flow``), what it reads
(``inputs``) and the paper's switches (``augment``, ``smote``, ``class_weight``). This module
turns an entry into the object a fold calls (:func:`make_method`): :class:`CNN` or
:class:`Flow`, each with ``inputs`` (one row per clip: what the method learns from) and
``fit_predict`` (train on a training part, select on its validation part, predict its test
part, and the training part itself with the selected model), and holds the resampling of stage 2 (:func:`resample_pool`): augmentation, then SMOTE,
keeping for every sample the clip(s) it was made from.

:func:`method_params` is what defines a method beyond its data: its kind, inputs and switches,
and the augmentation policy or the flow settings. It is stored with every record and is the
method's part of every fold key; a method's title, page or prose are not, so editing them
retrains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import augment, balance, config, models
from .config import CLASSES


# ----------------------------------------------------------------------------- the objects
def make_method(name: str, clips: Any, X: np.ndarray, profile: dict, seed: int):
    """The method object of ``methods.yaml`` entry ``name``: the class :data:`KINDS` names for
    its ``method`` (:class:`CNN`, :class:`Flow` or :class:`FlowNet`)."""
    kind = config.method(name)["method"]
    if kind not in KINDS:
        raise ValueError(f"methods.yaml: {name}: unknown method {kind!r} ({', '.join(KINDS)})")
    return KINDS[kind](name, clips, X, profile, seed)


def method_params(name: str, profile: dict) -> dict:
    """What defines method ``name`` beyond its data (stored in every record, part of every fold
    key): its kind, inputs and switches, and the augmentation policy or the flow settings."""
    entry = config.method(name)
    if entry["method"] == "flownet":
        from . import flownets

        return {
            "kind": "flownet",
            "network": entry["network"],
            "epochs": flownet_epochs(name, profile),
            "input": {"size": flownets.SIZE, "channels": list(flownets.CHANNELS)},
            "training": dict(flownets.TRAINING),
            "flow": {k: v for k, v in flow_parameters().items() if k in FLOW_STAGE},
        }
    if entry["method"] == "flow":
        from . import flow

        return {
            "kind": "flow",
            "class_weight": bool(entry["class_weight"]),
            **({"keyframe_size": size} if (size := keyframe_size(name, profile)) else {}),
            **flow.PARAMETERS,
        }
    return {
        "kind": "cnn",
        "inputs": entry.get("inputs", "frames"),
        **{k: bool(entry[k]) for k in ("augment", "smote", "class_weight")},
        "augmentation": profile["augmentation"] if entry["augment"] else None,
    }


FLOW_STAGE = ("flow", "strain", "global_motion", "mask_margin_px", "regions", "region_units")
"""The settings of the flow stage a ``flownet`` method shares with the flow baseline."""


def flow_parameters() -> dict:
    from . import flow

    return flow.PARAMETERS


def flownet_epochs(name: str, profile: dict) -> int:
    """The epochs a ``flownet`` method trains: ``epoch_factor`` x the profile's ``epochs``."""
    return int(config.method(name).get("epoch_factor", 1)) * int(profile["epochs"])


def keyframe_size(name: str, profile: dict) -> int | None:
    """The key-frame size a flow method shrinks to (``cnn``: the profile's frame size), or None
    for the stage-1 key frames as they are."""
    size = config.method(name).get("keyframe_size")
    if size is None:
        return None
    return int(profile["size"]) if size == "cnn" else int(size)


def switches(name: str) -> dict:
    """The method's resampling switches: ``augment``, ``smote``, ``class_weight`` (bools)."""
    entry = config.method(name)
    return {k: bool(entry[k]) for k in ("augment", "smote", "class_weight")}


class Described:
    """A method as its fold keys see it (name, kind, switches, parameters), without its model:
    what the runner needs to list a page's folds before a cluster fits them."""

    def __init__(self, name: str, profile: dict):
        self.name = name
        self.kind = config.method(name)["method"]
        self.switches = switches(name)
        self.profile = profile

    def params(self) -> dict:
        return method_params(self.name, self.profile)


class CNN:
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

    def __init__(self, name: str, clips: Any, X: np.ndarray, profile: dict, seed: int):
        self.name = name
        self.switches = switches(name)
        self.profile = profile
        self.inputs = X
        """What the method learns from, one row per clip: the stage-1 clip tensors."""
        self.inputs_as = config.method(name).get("inputs", "frames")
        _clear_session()
        models.set_seeds(seed)
        self.model = models.model_for_profile(
            tuple(X.shape[1:]), profile, inputs_as=self.inputs_as, seed=seed
        )
        self.fresh = models.snapshot(self.model)

    def params(self) -> dict:
        return method_params(self.name, self.profile)

    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        """Train on the (resampled) training part, select on validation, predict the test part."""
        from . import flownets

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


class Flow:
    """The optical-flow baseline (:mod:`mer_utils.flow`): region features of the onset-apex
    flow, computed once per clip, and a scaled linear classifier fitted on each training part.

    It has no epochs and no model selection: the validation part of each split is left unused,
    so that it trains on exactly the training part the 3D CNN trains on and is tested on exactly
    the same test part. Class weights, when the entry asks for them, are scikit-learn's
    ``"balanced"`` weights N / (K n_k): Eq. 1 divided by the number of classes K. An entry's
    ``keyframe_size`` shrinks the key frames before the flow is measured (e.g. to the 3D CNN's
    input size, so that the two are compared at one resolution).
    """

    kind = "flow"

    def __init__(self, name: str, clips: Any, X: np.ndarray, profile: dict, seed: int):
        from . import flow

        self.name = name
        self.switches = switches(name)
        if self.switches["augment"] or self.switches["smote"]:
            raise ValueError(
                f"methods.yaml: {name}: the flow method resamples no clips "
                "(augment and smote must be false)"
            )
        self.profile = profile
        self._flow = flow
        size = keyframe_size(name, profile)
        self.inputs = flow.features(clips if size is None else flow.resized(clips, int(size)))
        """What the method learns from, one row per clip: the flow features."""

    def params(self) -> dict:
        return method_params(self.name, self.profile)

    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        """Fit scaler and classifier on the training part only; predict the test part (a
        training part with one class predicts that class) and, with the same fitted model, the
        training part itself (how well it fitted what it was trained on)."""
        n = len(X_test)
        both = np.concatenate([np.asarray(X_test), np.asarray(X_train)])
        pred = self._flow.classify(X_train, y_train, both, weights is not None, seed)
        return pred[:n], {"epochs": None, "best_epoch": None, "train_pred": pred[n:]}

    def precision(self) -> str:
        return "float64"


class FlowNet:
    """A network of the field on the onset-apex flow (:mod:`mer_utils.flownets`: STSTNet,
    OFF-ApexNet), built once and reset before every fold like :class:`CNN`.

    Every epoch runs; the fold keeps the test predictions of each epoch, and reports those of the
    epoch with the lowest validation loss (honest). :func:`mer_utils.flownets.select` scores the
    same training again with the epoch chosen on the test part.
    """

    kind = "flownet"

    def __init__(self, name: str, clips: Any, X: np.ndarray, profile: dict, seed: int):
        from . import flownets

        self.name = name
        self.switches = switches(name)
        if any(self.switches.values()):
            raise ValueError(
                f"methods.yaml: {name}: a flownet method neither resamples nor weighs "
                "(augment, smote and class_weight must be false)"
            )
        self.profile = profile
        self._nets = flownets
        self.inputs = flownets.flow_images(clips)
        """What the method learns from, one row per clip: the (u, v, strain) flow images."""
        self.epochs = flownet_epochs(name, profile)
        _clear_session()
        models.set_seeds(seed)
        self.model = flownets.build(config.method(name)["network"], seed)
        self.fresh = models.snapshot(self.model)

    def params(self) -> dict:
        return method_params(self.name, self.profile)

    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        """Train every epoch, keep each epoch's test predictions, report the honest epoch's."""
        models.restore(self.model, self.fresh)
        X_train, X_val, X_test = self._nets.standardise(X_train, X_val, X_test)
        fit = self._nets.train_by_epoch(
            self.model, X_train, y_train, X_val, y_val, X_test, self.epochs, seed
        )
        best = self._nets.honest_epoch(fit["val_loss"])
        pred = np.asarray(fit["test_by_epoch"][best - 1], dtype=int)
        train_pred = np.asarray(fit.pop("train_by_epoch")[best - 1], dtype=int)
        return pred, {"epochs": self.epochs, "best_epoch": best, "train_pred": train_pred, **fit}

    def precision(self) -> str:
        return "float32"


KINDS = {"cnn": CNN, "flow": Flow, "flownet": FlowNet}
"""The kinds of method (``methods.yaml`` ``method``) and the class that runs each."""


def _clear_session() -> None:
    import keras

    keras.backend.clear_session()


# ----------------------------------------------------------------------------- resampling
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


def resample_pool(X: np.ndarray, y: np.ndarray, switches: dict, profile: dict, seed: int) -> Pool:
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
