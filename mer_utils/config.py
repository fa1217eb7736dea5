"""The study's tables, kept as YAML data in ``mer_utils/data/``.

=====================  =====================================================================
file                   what it holds
=====================  =====================================================================
``labels.yaml``        per dataset: original emotion label -> negative / positive / surprise
``datasets.yaml``      per dataset: display name, default folder name, on-disk layout facts
``profiles.yaml``      run profiles (``smoke``, ``quick``, ``paper``): sizes, epochs, ...
``variants.yaml``      the paper's four variants as switches (augment, SMOTE, class weights)
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

DATASETS: tuple[str, ...] = ("casme2", "samm", "smic", "casme_sq")
"""Dataset keys, in the order of the paper's book chapters."""


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
