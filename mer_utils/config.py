"""The study's tables, kept as YAML data in ``mer_utils/data/``.

=====================  =====================================================================
file                   what it holds
=====================  =====================================================================
``labels.yaml``        per dataset: original emotion label -> negative / positive / surprise
``datasets.yaml``      per dataset: display name, default folder name, on-disk layout facts
``profiles.yaml``      run profiles (``smoke``, ``quick``, ``paper``): sizes, epochs, ...
``methods.yaml``       the methods: the paper's variants as switches (augment, SMOTE, class
                       weights) and this study's additions, with their pages' text
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


@functools.cache
def subjects():
    """``subjects.csv``: the REAL datasets' structure, one row per subject with three-class clips
    (``dataset, subject, negative, positive, surprise, clip_frames_onset_to_offset``; the lengths
    are space-separated, empty where unknown). Treat as read-only."""
    import io

    import pandas as pd

    text = resources.files("mer_utils").joinpath("data", "subjects.csv").read_text("utf-8")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


REFIT_ENV = "MER_REFIT_BEFORE"
"""Set by the runner under ``--force`` (a Unix time): the fold store refits every fold written
before it (:class:`mer_utils.folds.FoldStore`); the pages' kernels inherit it."""

RUNNER_KEYS = ("cell_timeout_s",)
"""Profile values only the runner reads: no result depends on them, so :func:`profile` (what
records and fold keys hash) leaves them out."""


def cell_timeout(name: str | None) -> int | None:
    """``cell_timeout_s`` of profile ``name`` (None: no profile of that name, or no limit)."""
    entry = load("profiles").get(name) if isinstance(name, str) else None
    value = (entry or {}).get("cell_timeout_s")
    return None if value is None else int(value)


def profile(name: str, dataset: str | None = None) -> dict:
    """Return the run profile ``name`` from ``profiles.yaml`` as a new dict; with ``dataset``,
    the values that dataset runs under: a dataset's ``repeats`` for this profile
    (``datasets.yaml``, e.g. the MEGC 2019 composite's fewer, larger trainings) replace the
    profile's for the protocols they name. Records key on these values (``profile_id``).

    Raises ``KeyError`` naming the known profiles when ``name`` is not one of them.
    """
    profiles = load("profiles")
    if name not in profiles:
        raise KeyError(f"unknown profile {name!r}; profiles.yaml defines {sorted(profiles)}")
    out = {k: v for k, v in profiles[name].items() if k not in RUNNER_KEYS}
    own = (load("datasets").get(dataset) or {}).get("repeats", {}).get(name) if dataset else None
    if own:
        out["repeats"] = {**out["repeats"], **own}
    return out


def methods() -> dict[str, dict]:
    """Every method of ``methods.yaml`` (the paper's variants, then this study's), in order."""
    return {name: dict(entry) for name, entry in load("methods").items()}


def method(name: str) -> dict:
    """The entry of method ``name`` (e.g. ``MER-DA3DCNNST``) in ``methods.yaml``."""
    table = load("methods")
    if name not in table:
        raise KeyError(f"unknown method {name!r}; methods.yaml defines {list(table)}")
    return dict(table[name])


def paper_methods() -> tuple[str, ...]:
    """The paper's own variants (``paper: true`` in ``methods.yaml``), in order."""
    return tuple(name for name, entry in load("methods").items() if entry.get("paper"))


def dataset_info(name: str) -> dict:
    """Return the layout facts of dataset ``name`` from ``datasets.yaml``."""
    info = load("datasets")
    if name not in info:
        raise KeyError(f"unknown dataset {name!r}; datasets.yaml defines {list(info)}")
    return dict(info[name])


def datasets(composites: bool = True) -> tuple[str, ...]:
    """Dataset keys in the book's order: the rows of ``datasets.yaml``, the registry of the
    dataset plug-ins (:mod:`mer_utils.datasets`). Read at call time (see :data:`DATASETS`).
    ``composites=False`` leaves out the datasets made of others (``parts``: the MEGC 2019
    composite), which have no folder and no stand-in of their own."""
    rows = load("datasets")
    return tuple(k for k, v in rows.items() if composites or not v.get("parts"))


DATASETS: tuple[str, ...] = datasets()
"""Dataset keys in the book's order: the rows of ``datasets.yaml``, the registry of the dataset
plug-ins (:mod:`mer_utils.datasets`)."""
