"""What the paper's printed accuracies allow: its protocol, reconstructed by hypotheses.

An accuracy is k correct answers out of n test samples. Printed with two decimals, the paper's
89.98 % (MER-3DCNNST on CAS(ME)²) can only be k/n with 89.975 % <= 100 k/n < 89.985 %; the
smallest such n is 409 (368/409), and many other n cannot print it at all. So every way of
sampling the data that the paper might have used (its stated split of the clips, frames, windows
of frames, copies made before the split...) predicts a test size, and the printed accuracy either
*can* come from that test size ("consistent") or cannot ("excluded"). :func:`hypotheses` tests
each of the paper's 16 own rows (Tables 1-4, ``reference.yaml``) against each hypothesis on the
REAL datasets' structure (``subjects.csv``: three-class clips per subject and their onset..offset
lengths; ``reconstruction.yaml``: the test fraction, the window lengths tried, what is assumed
where the structure is unknown). Nothing here is measured and no stand-in is involved: the
verdicts hold for the licensed datasets as they are.

An exclusion is strong (no sampling of that kind prints the number); "consistent" is weak (a
flexible hypothesis, such as windows of any length and stride, prints almost anything). The
arithmetic assumes half-up rounding to two decimals, and a test part of 10 % of the samples
rounded either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np
import pandas as pd

from . import config, reference

HYPOTHESES: dict[str, str] = {
    "clips": "clips, one 10 % split, the stated protocol",
    "repeats": "clips, averaged over r repeated splits",
    "resampled": "copies made by the variant's resampling before the split",
    "frames": "every frame a sample, split at random",
    "windows": "T-frame windows at stride s, split at random",
}
"""The hypotheses every row is tested against (dataset-specific ones follow from
``reconstruction.yaml``: ``other_material``)."""


# ----------------------------------------------------------------------------- printed numbers
def prints(n: int, percent: float, decimals: int = 2) -> int | None:
    """The number of correct answers k for which k/n prints as ``percent`` (with ``decimals``
    decimals, half-up), or None when no k out of n prints it. Exact rational arithmetic."""
    half = Fraction(1, 2 * 10**decimals)
    target = Fraction(str(percent))
    lo, hi = (target - half) / 100, (target + half) / 100
    k = -((-lo.numerator * n) // lo.denominator)  # ceil(lo * n)
    return k if k <= n and Fraction(k, n) < hi else None


def smallest_test_size(percent: float, decimals: int = 2, limit: int = 100_000) -> tuple[int, int]:
    """The smallest number of test samples n (and correct ones k) for which k/n, printed as a
    percentage with ``decimals`` decimals, reads ``percent``.

    An accuracy printed as 89.98 % can only come from k correct out of n test samples with
    89.975 <= 100 k / n < 89.985; the smallest such n is 409 (368/409).
    """
    for n in range(1, limit + 1):
        k = prints(n, percent, decimals)
        if k is not None:
            return n, k
    raise ValueError(f"no test size up to {limit} prints {percent} %")


def any_prints(low: int, high: int | None, percent: float) -> int | None:
    """The smallest n in [low, high] (``high`` None: no upper bound) that prints ``percent``."""
    smallest, _ = smallest_test_size(percent)
    if high is None:  # every multiple of the smallest n prints the same number
        return smallest * max(1, math.ceil(low / smallest))
    for n in range(max(low, smallest), high + 1):
        if prints(n, percent) is not None:
            return n
    return None


# ----------------------------------------------------------------------------- the real data
@dataclass(frozen=True)
class Structure:
    """A dataset's three-class micro clips as the real files hold them."""

    clips: int
    per_class: dict[str, int]
    lengths: tuple[int, ...] | None
    """Onset..offset frames of every clip; None where unknown (then ``length_range``)."""
    length_range: tuple[int, int] | None = None
    assumption: str = ""


@cache
def structure(dataset: str) -> Structure:
    """Clips, clips per class and clip lengths of the REAL dataset (``subjects.csv``)."""
    table = config.subjects()
    rows = table[table["dataset"] == dataset]
    if rows.empty:
        raise KeyError(f"subjects.csv has no rows for {dataset!r}")
    per_class = {c: int(rows[c].astype(int).sum()) for c in config.CLASSES}
    lengths = [int(v) for cell in rows["clip_frames_onset_to_offset"] for v in cell.split()]
    n = sum(per_class.values())
    if lengths:
        if len(lengths) != n:
            raise ValueError(f"subjects.csv: {dataset}: {len(lengths)} lengths for {n} clips")
        return Structure(n, per_class, tuple(lengths))
    unknown = _table()["unknown_lengths"].get(dataset)
    if not unknown:
        raise ValueError(f"subjects.csv has no clip lengths for {dataset} and no assumption")
    return Structure(
        n, per_class, None, (int(unknown["min"]), int(unknown["max"])), str(unknown["why"])
    )


def _table() -> dict:
    return config.load("reconstruction")


def _test_sizes(samples: int) -> list[int]:
    """Test-part sizes of ``samples`` at the test fraction, rounded down and up (distinct, > 0)."""
    exact = _table()["test_fraction"] * samples
    return sorted({n for n in (math.floor(exact), math.ceil(exact)) if n > 0})


def _windows(lengths, T: int, s: int) -> int:
    lengths = np.asarray(lengths)
    return int(np.where(lengths >= T, (lengths - T) // s + 1, 1).sum())


# ----------------------------------------------------------------------------- hypotheses
@dataclass
class Verdict:
    """One hypothesis tested against one reported accuracy."""

    hypothesis: str
    test_samples: str
    consistent: bool
    detail: str


def _sizes_verdict(name: str, sizes: list[int], percent: float, what: str) -> Verdict:
    hit = [n for n in sizes if prints(n, percent) is not None]
    shown = " or ".join(map(str, sizes))
    if hit:
        k = prints(hit[0], percent)
        return Verdict(name, shown, True, f"{what}: {k}/{hit[0]} prints {percent:.2f} %")
    return Verdict(name, shown, False, f"{what}: no k out of {shown} prints {percent:.2f} %")


def _range_verdict(name: str, low: int, high: int | None, percent: float, what: str) -> Verdict:
    shown = f"{low}-{high}" if high is not None else f"at least {low}"
    n = any_prints(low, high, percent)
    if n is None:
        return Verdict(
            name, shown, False, f"{what}: no test size in {shown} prints {percent:.2f} %"
        )
    return Verdict(name, shown, True, f"{what}: e.g. {prints(n, percent)}/{n}")


def hypotheses(dataset: str, variant: str, percent: float) -> list[Verdict]:
    """Every hypothesis of :data:`HYPOTHESES` (and the dataset's ``other_material``) tested
    against the accuracy ``percent`` the paper prints for ``variant`` on ``dataset``."""
    s = structure(dataset)
    table = _table()
    frac = table["test_fraction"]
    out = [_sizes_verdict("clips", _test_sizes(s.clips), percent, f"{s.clips} clips")]

    clip_tests = _test_sizes(s.clips)
    found = next(
        (
            (r, n)
            for r in range(1, int(table["max_repeats"]) + 1)
            for n in clip_tests
            if prints(r * n, percent) is not None
        ),
        None,
    )
    out.append(
        Verdict(
            "repeats",
            f"r x {' or '.join(map(str, clip_tests))}",
            found is not None,
            f"needs at least r = {found[0]} repeated splits (mean of {found[0]} accuracies)"
            if found
            else f"no r up to {table['max_repeats']}",
        )
    )

    switches = config.method(variant)
    if switches["augment"]:
        found = next(
            (
                f
                for f in range(2, int(table["max_factor"]) + 1)
                if any(prints(n, percent) is not None for n in _test_sizes(f * s.clips))
            ),
            None,
        )
        two = _test_sizes(2 * s.clips)
        out.append(
            Verdict(
                "resampled",
                f"f x {s.clips} x {frac:g}",
                found is not None,
                (
                    f"augmentation factor f = {found} is the smallest that prints it"
                    if found
                    else f"no factor up to {table['max_factor']}"
                )
                + f"; factor 2 gives {' or '.join(map(str, two))} test samples",
            )
        )
    elif switches["smote"]:
        pool = len(config.CLASSES) * max(s.per_class.values())
        v = _sizes_verdict(
            "resampled", _test_sizes(pool), percent, f"SMOTE to {pool} balanced samples"
        )
        out.append(v)
    else:
        out.append(
            Verdict("resampled", "–", False, "the variant resamples nothing: no copies to split")
        )

    if s.lengths is not None:
        frames = sum(s.lengths)
        out.append(_sizes_verdict("frames", _test_sizes(frames), percent, f"{frames} frames"))
    else:
        lo, hi = s.length_range
        low, high = (math.floor(frac * lo * s.clips), math.ceil(frac * hi * s.clips))
        out.append(
            _range_verdict("frames", low, high, percent, f"{lo}-{hi} frames per clip (assumed)")
        )

    out.append(_windows_verdict(s, percent))

    for extra in table.get("other_material", {}).get(dataset, []):
        name = extra["name"]
        out.append(
            _sizes_verdict(f"clips of {name}", _test_sizes(int(extra["clips"])), percent, "clips")
            if int(extra["clips"]) * frac < smallest_test_size(percent)[0]
            else _range_verdict(
                f"clips of {name}", 1, math.ceil(frac * int(extra["clips"])), percent, "clips"
            )
        )
        low = math.floor(frac * int(extra["frames_at_least"]))
        out.append(
            _range_verdict(
                f"frames of {name}",
                low,
                None,
                percent,
                f"at least {extra['frames_at_least']} frames",
            )
        )
    return out


def _windows_verdict(s: Structure, percent: float) -> Verdict:
    """T-frame windows at stride s (T from ``reconstruction.yaml``, s = 1..T), split at random."""
    lengths_tried = [int(t) for t in _table()["windows"]["lengths"]]
    hits, tried = [], 0
    for T in lengths_tried:
        for stride in range(1, T + 1):
            tried += 1
            if s.lengths is not None:
                sizes = _test_sizes(_windows(s.lengths, T, stride))
                ok = any(prints(n, percent) is not None for n in sizes)
            else:
                lo, hi = s.length_range
                frac = _table()["test_fraction"]
                low = math.floor(frac * s.clips * _windows([lo], T, stride))
                high = math.ceil(frac * s.clips * _windows([hi], T, stride))
                ok = any_prints(low, high, percent) is not None
            if ok:
                hits.append((T, stride))
    label = f"T in {lengths_tried}, s = 1..T"
    if not hits:
        return Verdict("windows", label, False, f"none of the {tried} (T, s) pairs prints it")
    T, stride = max(hits, key=lambda p: (p[1], -p[0]))
    return Verdict(
        "windows",
        label,
        True,
        f"{len(hits)} of {tried} (T, s) pairs print it, e.g. T = {T}, s = {stride}",
    )


# ----------------------------------------------------------------------------- tables
def own_rows() -> pd.DataFrame:
    """The paper's 16 own rows: dataset, variant, reported accuracy (%) and F1."""
    return reference.own_rows()


def table() -> pd.DataFrame:
    """Every own row x every hypothesis (long form): dataset, variant, reported accuracy, the
    smallest test size that prints it, the hypothesis, its test samples, verdict and detail."""
    rows = []
    for r in own_rows().to_dict("records"):
        n, k = smallest_test_size(r["accuracy"])
        for v in hypotheses(r["dataset"], r["variant"], r["accuracy"]):
            rows.append(
                {
                    "dataset": r["dataset"],
                    "variant": r["variant"],
                    "accuracy": r["accuracy"],
                    "smallest n": n,
                    "k": k,
                    "hypothesis": v.hypothesis,
                    "test samples": v.test_samples,
                    "verdict": "consistent" if v.consistent else "excluded",
                    "detail": v.detail,
                }
            )
    return pd.DataFrame(rows)


def verdicts(long: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`table` as a matrix: one row per own row, one column per hypothesis, cells
    ``consistent`` / ``excluded`` (blank where a hypothesis does not apply to the dataset)."""
    long = table() if long is None else long
    order = list(dict.fromkeys(long["hypothesis"]))
    wide = long.pivot_table(
        index=["dataset", "variant"], columns="hypothesis", values="verdict", aggfunc="first"
    )
    keys = list(dict.fromkeys(zip(long["dataset"], long["variant"])))
    return wide.reindex(index=pd.MultiIndex.from_tuples(keys), columns=order).fillna("")


def surviving(long: pd.DataFrame | None = None) -> dict[str, int]:
    """For every hypothesis: how many of the rows it applies to it can explain."""
    long = table() if long is None else long
    return (
        long.assign(ok=long["verdict"] == "consistent")
        .groupby("hypothesis", sort=False)["ok"]
        .agg(["sum", "size"])
        .apply(lambda r: (int(r["sum"]), int(r["size"])), axis=1)
        .to_dict()
    )


# ----------------------------------------------------------------------------- the paper's text
def inconsistencies() -> list[dict]:
    """Places where the paper's numbers disagree with each other, computed from
    ``reference.yaml`` (identical rows across tables, the stated gain of augmentation)."""
    from .datasets import display_name

    rows = own_rows()
    out = []
    seen = {}
    for r in rows.to_dict("records"):
        key = (r["accuracy"], r["f1"])
        if key in seen:
            a = seen[key]
            out.append(
                {
                    "what": "two rows of different tables are identical",
                    "paper": f"{display_name(a['dataset'])} {a['variant']} and "
                    f"{display_name(r['dataset'])} {r['variant']}: "
                    f"{r['accuracy']:.2f} %, F1 {r['f1']:.4f}",
                }
            )
        seen[key] = r
    by = rows.set_index(["dataset", "variant"])["accuracy"]
    gain = by[("casme2", "MER-DA3DCNNST")] - by[("casme2", "MER-3DCNNST")]
    out.append(
        {
            "what": "augmentation \"increased the model's accuracy by up to 5% on the CASME II "
            'dataset compared to unaugmented data"',
            "paper": f"Table 4: MER-DA3DCNNST - MER-3DCNNST = {gain:+.2f} points",
        }
    )
    return out
