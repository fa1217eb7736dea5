"""One verdict per run, the same on every page: is a score above its permutation chance level?

A page that shows a method's score under a protocol also says whether the score is above chance.
Every such verdict of the book comes from :func:`test`, which depends on the runs of that one
(dataset, method, protocol) and on the study's configuration only, so every page that shows the
runs shows the same p-value, the same adjusted p-value and the same verdict, whichever other runs
the page holds and in whatever order the pages were built.

The test (:func:`mer_utils.chance.shared_test`)
    The labels of the test clips are permuted, the predictions held fixed; one relabelling is
    shared by every repeat (seed, split) of the runs, applied to a clip wherever the clip is
    tested, and the mean score over the repeats is set against the mean over the same repeats
    under each relabelling. Labels are permuted within each subject where the protocol is
    subject-independent, else among all clips (people are then on both sides of the split,
    so a person's mix of classes may count as learned). Windows and augmented copies of a clip
    carry their clip's label; each SMOTE sample is a unit of its own.

The family (:func:`family`)
    A claim of the book is "this method, on this dataset, is above chance under these
    protocols": the family of a test is every protocol the profile runs the method under on
    the dataset (a part of a composite counts as a dataset of its own). It is defined by the
    configuration (``profiles.yaml``, ``datasets.yaml``, ``methods.yaml``), not by the runs a
    page holds, and the p-value is adjusted by Bonferroni over it, which needs no other test of
    the family (:func:`mer_utils.chance.bonferroni`). Statements across methods or datasets
    count these verdicts.

What the test could have seen (``detectable``)
    The smallest mean score that would have been called above chance: the score whose p-value
    reaches ``ALPHA / family size`` against the same relabellings
    (:func:`mer_utils.chance.detectable`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import atomic, chance, config, methods, protocols
from .config import CLASSES
from .schema import CONFUSION_COLUMNS, KEY

K = len(CLASSES)
VERSION = 1
"""Raise when the test changes: verdicts stored under another version are not read."""
_CACHE: dict[tuple, dict] = {}


def dataset_protocols(
    dataset: str, profile: str, protocols: list[str], method: str | None = None
) -> list[str]:
    """The protocols a dataset's pages run under: the run's, or where ``datasets.yaml`` gives
    the dataset its own for this profile (the MEGC 2019 composite: its benchmark protocol),
    those, for a method page only the ones listed for the method's kind. A dataset with its
    own protocols keeps them whatever the run's default; ``--protocols`` narrows them. A method's
    ``skip_protocols_in`` (``methods.yaml``: profile -> protocol -> why) leaves protocols out of
    one profile's book."""
    own = (config.dataset_info(dataset).get("protocols") or {}).get(profile)
    budget = (
        set(config.method(method).get("skip_protocols_in", {}).get(profile, {}))
        if method
        else set()
    )
    if own is None:
        return [p for p in protocols if p not in budget]
    explicit = protocols != config.profile(profile)["protocols"]
    kind = methods.plugin_of(method).kind if method else None
    return [
        p
        for p, kinds in own.items()
        if (kind is None or kind in kinds) and (not explicit or p in protocols) and p not in budget
    ]


def family(dataset: str, method: str, profile: str) -> list[str]:
    """The protocols of a test's family: those the profile runs ``method`` under on ``dataset``
    (the dataset's own protocols where ``datasets.yaml`` gives it some), less the method's
    ``skip_protocols``."""
    prof = config.profile(profile, dataset)
    wanted = dataset_protocols(dataset, profile, list(prof["protocols"]), method)
    skipped = set(config.method(method).get("skip_protocols") or {})
    return [p for p in wanted if p not in skipped]


def test(res) -> dict:
    """The verdict of the runs of ONE (dataset, method, protocol, profile): for every score of
    :data:`mer_utils.chance.SCORES`, ``p_<s>`` (uncorrected), ``p_adj_<s>`` (Bonferroni over
    the family), ``chance_<s>`` (95th percentile of the shuffled mean), ``detectable_<s>``,
    ``verdict_<s>``; and ``family`` (its size), ``n_perm``. Cached: one computation per set of
    runs in a process."""
    m = res.metrics.sort_values("repeat")
    key = (
        res.subject_prefix,
        tuple(tuple(str(r[k]) for k in KEY) for r in m.to_dict("records")),
    )
    if key not in _CACHE:
        stored = _stored(res, key)
        got = json.loads(stored.read_text()) if stored and stored.exists() else None
        if got is None:
            got = _compute(res, m)
            if stored is not None:
                atomic.write_json(stored, got)
        _CACHE[key] = got
    return dict(_CACHE[key])


def _stored(res, key: tuple) -> Path | None:
    """Where the verdict of runs read from a results folder is kept:
    ``<results dir>/verdicts/<digest of the runs, the test's settings and VERSION>.json``, so
    that every page after the first reads it instead of relabelling again."""
    folders = {v for k, v in res.sources.items() if isinstance(v, Path)}
    if len(folders) != 1:
        return None
    folder = folders.pop()
    content = hashlib.sha256()  # a re-run under the same key rewrites its predictions
    for name in sorted(str(f) for f in res.metrics["predictions_file"]):
        path = folder / name
        content.update(path.read_bytes() if path.is_file() else name.encode())
    settings = (VERSION, chance.N_PERMUTATIONS, chance.RESOLUTION, chance.MAX_PERMUTATIONS)
    text = json.dumps([settings, key, content.hexdigest()], default=str)
    return folder / "verdicts" / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.json"


def _compute(res, m: pd.DataFrame) -> dict:
    first = m.iloc[0]
    for column in ("dataset", "method", "protocol", "profile", "seed"):
        if m[column].nunique() != 1:
            raise ValueError(f"a verdict tests runs of one {column}, got {sorted(set(m[column]))}")
    info = protocols.info(first["protocol"])
    try:
        size = len(family(first["dataset"], first["method"], first["profile"])) or 1
    except KeyError:  # a profile or method unknown to this configuration (tables by hand)
        size = int(m["protocol"].nunique())
    n_perm = chance.n_permutations(size)
    units: dict[tuple, int] = {}
    labels, groups, runs = [], [], []
    for record in m.to_dict("records"):
        samples = _samples(res, record)
        index = []
        for i, (subject, clip, true) in enumerate(
            zip(samples["subject"], samples["clip"], samples["true"])
        ):
            ident = (
                (subject, clip) if clip != "(synthetic)" else (subject, f"{record['repeat']}:{i}")
            )
            if ident not in units:
                units[ident] = len(labels)
                labels.append(int(true))
                groups.append(subject if info["subject_independent"] else "")
            index.append(units[ident])
        runs.append((np.array(index, dtype=int), samples["pred"].to_numpy(dtype=int)))
    order = sorted(units, key=str)  # the relabellings depend on the clips, not on their order
    rank = np.empty(len(order), dtype=int)
    for new, ident in enumerate(order):
        rank[units[ident]] = new
    labels = np.array(labels)[np.argsort(rank)]
    groups = np.array(groups, dtype=object)[np.argsort(rank)]
    runs = [(rank[unit], pred) for unit, pred in runs]
    seed = protocols.seed_for(int(first["seed"]), 0, chance.STREAM)
    got = chance.shared_test(labels, groups.astype(str), runs, n_perm, seed, k=K)
    out = {"family": size, "n_perm": n_perm, "units": len(labels)}
    for s in chance.SCORES:
        adjusted = chance.bonferroni(got[f"p_{s}"], size)
        out[f"score_{s}"] = got[f"score_{s}"]
        out[f"p_{s}"] = got[f"p_{s}"]
        out[f"p_adj_{s}"] = adjusted
        out[f"chance_{s}"] = got[f"chance_{s}"]
        out[f"detectable_{s}"] = chance.detectable(got[f"null_{s}"], chance.ALPHA / size)
        out[f"verdict_{s}"] = chance.verdict(adjusted)
    return out


def _samples(res, record: dict) -> pd.DataFrame:
    """The test samples of one run: subject, clip, true, pred. From its stored predictions; for
    tables without them (built by hand), from its per-subject confusion matrices, the clips of a
    subject then numbered within their class (exact for one run, an approximation across runs)."""
    got = res.predictions(record)
    if got is not None:
        code = {c: i for i, c in enumerate(CLASSES)} | {str(i): i for i in range(K)}
        return pd.DataFrame(
            {
                "subject": got["subject"].astype(str),
                "clip": got["clip"].astype(str),
                "true": got["true"].astype(str).map(code),
                "pred": got["pred"].astype(str).map(code),
            }
        )
    units = res.confusions
    mine = units[np.logical_and.reduce([units[k].astype(str) == str(record[k]) for k in KEY])]
    rows = []
    for u in mine.to_dict("records"):
        cm = np.array([u[c] for c in CONFUSION_COLUMNS], dtype=int).reshape(K, K)
        for t in range(K):
            n = 0
            for p in range(K):
                for _ in range(cm[t, p]):
                    rows.append((str(u["subject"]), f"{CLASSES[t]}{n}", t, p))
                    n += 1
    return pd.DataFrame(rows, columns=["subject", "clip", "true", "pred"])


def table(res, by=("dataset", "method", "protocol")) -> pd.DataFrame:
    """One row per group of runs (default: per dataset, method and protocol): :func:`test`."""
    rows = []
    for values, group in res.groups(list(by)):
        values = values if isinstance(values, tuple) else (values,)
        rows.append({**dict(zip(by, values)), **test(group)})
    return pd.DataFrame(rows)
