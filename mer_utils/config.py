"""The study's tables, kept as YAML data in ``mer_utils/data/``.

=====================  =====================================================================
file                   what it holds
=====================  =====================================================================
``labels.yaml``        per dataset: original emotion label -> negative / positive / surprise
``datasets.yaml``      per dataset: display name, default folder name, on-disk layout facts
``profiles.yaml``      run profiles (``smoke``, ``quick``, ``paper``): sizes, epochs, ...
``variants.yaml``      the paper's four variants as switches (augment, SMOTE, class weights)
``protocols.yaml``     the evaluation protocols (split kind, repeated or not)
``grid.yaml``          which notebooks run for which datasets / variants / protocols
``reference.yaml``     the paper's reported numbers (Tables 1-4), labelled as reported
=====================  =====================================================================
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
"""The three classes of the paper, in the fixed order used for one-hot labels and tables."""


def class_codes(labels):
    """Class names (``negative``...) -> integer codes 0, 1, 2 in :data:`CLASSES` order."""
    import numpy as np

    index = {c: i for i, c in enumerate(CLASSES)}
    try:
        return np.array([index[label] for label in labels], dtype=int)
    except KeyError as err:
        raise ValueError(f"unknown class {err.args[0]!r}; classes are {CLASSES}") from None


@functools.cache
def load(name: str) -> Any:
    """Return the parsed YAML table ``mer_utils/data/<name>.yaml`` (cached, treat as read-only)."""
    text = resources.files("mer_utils").joinpath("data", f"{name}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def profile(name: str) -> dict:
    """Return the run profile ``name`` from ``profiles.yaml`` as a new dict.

    Raises ``KeyError`` naming the known profiles when ``name`` is not one of them.
    """
    profiles = load("profiles")
    if name not in profiles:
        raise KeyError(f"unknown profile {name!r}; profiles.yaml defines {sorted(profiles)}")
    return dict(profiles[name])


def methods() -> dict[str, dict]:
    """Every method of ``variants.yaml`` (the paper's variants, then the baseline), in order."""
    return {name: dict(entry) for name, entry in load("variants").items()}


def variant(name: str) -> dict:
    """Return the switches of variant ``name`` (e.g. ``MER-DA3DCNNST``) from ``variants.yaml``."""
    variants = load("variants")
    if name not in variants:
        raise KeyError(f"unknown variant {name!r}; variants.yaml defines {list(variants)}")
    return dict(variants[name])


def dataset_info(name: str) -> dict:
    """Return the layout facts of dataset ``name`` from ``datasets.yaml``."""
    info = load("datasets")
    if name not in info:
        raise KeyError(f"unknown dataset {name!r}; datasets.yaml defines {list(info)}")
    return dict(info[name])


def datasets() -> tuple[str, ...]:
    """Dataset keys in the book's order: the rows of ``datasets.yaml``, the registry of the
    dataset plug-ins (:mod:`mer_utils.datasets`). Read at call time (see :data:`DATASETS`)."""
    return tuple(load("datasets"))


DATASETS: tuple[str, ...] = datasets()
"""Dataset keys in the book's order: the rows of ``datasets.yaml``, the registry of the dataset
plug-ins (:mod:`mer_utils.datasets`)."""
