"""What every method is: the :class:`Method` plug-in interface a fold calls.

A method is an entry of ``methods.yaml`` (its ``method`` names its kind, the rest are its
settings and prose) run by the plug-in of its kind: the class ``PLUGIN`` of the module
``mer_utils/methods/<kind>.py``. A plug-in declares what defines it beyond its data
(:meth:`Method.params_for`: stored with every record and part of every fold key), what a sample
of it is (:attr:`Method.reads`), which of the paper's switches it may set, which optional
sections its page shows, and how it fits and predicts. The code a fold's result depends on is
the import closure of the plug-in's module (:func:`mer_utils.folds.code_digest`), so a new kind
brings its own code into its fold keys without a list kept by hand.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from .. import config
from ..profile import resolve

SWITCHES = ("augment", "smote", "class_weight")
"""The paper's stage-2 switches of a method entry."""


def switches(name: str) -> dict:
    """The method's resampling switches: ``augment``, ``smote``, ``class_weight`` (bools)."""
    entry = config.method(name)
    return {k: bool(entry[k]) for k in SWITCHES}


class Method(ABC):
    """One method of ``methods.yaml`` with a profile: described at once (name, switches,
    parameters: what fold keys need), built on a page's clips by :meth:`build` (its inputs, and
    its model where it has one, built once with the run seed and reset before every fold).

    Subclasses set :attr:`kind`, :attr:`reads`, :attr:`allowed` and :attr:`sections`, and
    implement :meth:`params_for`, :meth:`describe_inputs`, :meth:`build` and
    :meth:`fit_predict`.
    """

    kind: ClassVar[str]
    """The ``method`` of a ``methods.yaml`` entry this plug-in runs (its module's name)."""
    reads: ClassVar[str]
    """What one sample of the method is made of: ``frames`` (a clip tensor, which the window
    protocol can cut) or ``flow`` (features or images of the onset-apex flow)."""
    allowed: ClassVar[frozenset[str]] = frozenset(SWITCHES)
    """The switches (:data:`SWITCHES`) an entry of this kind may set true."""
    sections: ClassVar[frozenset[str]] = frozenset()
    """The optional sections of the method page (a template cell's ``when``) this kind shows."""

    inputs: np.ndarray
    """What the method learns from, one row per clip (set by :meth:`build`)."""

    def __init__(self, name: str, profile: Any):
        self.name = name
        self.entry = config.method(name)
        self.profile = resolve(profile)
        self.switches = {k: bool(self.entry[k]) for k in SWITCHES}
        refused = sorted(k for k, on in self.switches.items() if on and k not in self.allowed)
        if refused:
            raise ValueError(
                f"methods.yaml: {name}: a {self.kind} method cannot set {', '.join(refused)} "
                f"(it may set: {', '.join(sorted(self.allowed)) or 'none of the switches'})"
            )

    # ------------------------------------------------------------------ what defines it
    @classmethod
    @abstractmethod
    def params_for(cls, name: str, entry: dict, profile: Any) -> dict:
        """What defines the method beyond its data (a plain dict with its ``kind``)."""

    def params(self) -> dict:
        return self.params_for(self.name, self.entry, self.profile)

    @abstractmethod
    def describe_inputs(self) -> str:
        """What the method reads, in words with its resolution (a record's ``inputs``)."""

    def precision(self) -> str:
        """The arithmetic the fit runs in (recorded with every record)."""
        return "float32"

    # ------------------------------------------------------------------ fitting
    @abstractmethod
    def build(self, clips: Any, X: np.ndarray, seed: int) -> "Method":
        """Make :attr:`inputs` from a page's clips (``X``: their stage-1 tensors) and build the
        model, if any, with the run ``seed``; returns the method."""

    @abstractmethod
    def fit_predict(
        self, X_train, y_train, weights, X_val, y_val, X_test, seed: int
    ) -> tuple[np.ndarray, dict]:
        """Train on a (resampled) training part, select on its validation part, predict the
        test part. Returns the test predictions and what the fit kept: ``epochs``,
        ``best_epoch``, ``train_pred`` (the selected model on its training part) and, for a
        method that keeps them, ``test_by_epoch`` and ``val_loss``."""
