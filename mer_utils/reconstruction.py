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
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np
import pandas as pd

from . import config, reference

HYPOTHESES: dict[str, str] = {
    "clips": "clips, one 10 % split, the stated protocol",
    "repeats": "clips, averaged over r repeated 10 % splits",
    "cv-pooled": "clips, cross-validation pooled over all clips, every clip tested once",
    "cv-mean": "clips, the mean of the k fold accuracies of a cross-validation",
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


# ----------------------------------------------------------------------------- means of folds
def mean_prints(sizes, percent: float, decimals: int = 2, cap: int = 200_000) -> bool | None:
    """Whether the mean of ``len(sizes)`` fold accuracies c_i / n_i (c_i correct of the n_i test
    samples of fold i) can print ``percent``; None where the exact search stopped at ``cap``
    partial sums without an answer. Exact rational arithmetic: the folds of one size add up to
    C / n with C from 0 to (their number) x n, so only the sums per fold size are searched."""
    half = Fraction(1, 2 * 10**decimals)
    target = Fraction(str(percent))
    k = len(sizes)
    lo, hi = (target - half) / 100 * k, (target + half) / 100 * k  # the sum of the accuracies
    groups = sorted(Counter(int(n) for n in sizes).items(), reverse=True)
    *rest, (last_n, last_m) = groups
    room = [sum(m for _, m in rest[i:]) + last_m for i in range(len(rest) + 1)]
    seen: set = set()
    budget = [cap]

    def search(i: int, s: Fraction) -> bool:
        if i == len(rest):  # the last fold size: C / last_n in [lo - s, hi - s)
            c = max(0, math.ceil((lo - s) * last_n))
            return c <= last_m * last_n and Fraction(c, last_n) < hi - s
        if (i, s) in seen:
            return False
        seen.add((i, s))
        budget[0] -= 1
        if budget[0] < 0:
            raise _SearchCap
        n, m = rest[i]
        c_min = max(0, math.ceil((lo - room[i + 1] - s) * n))
        c_max = min(m * n, math.ceil((hi - s) * n) - 1)
        guess = min(max(round(target / 100 * m * n), c_min), c_max)
        order = sorted(range(c_min, c_max + 1), key=lambda c: abs(c - guess))
        return any(search(i + 1, s + Fraction(c, n)) for c in order)

    try:
        return search(0, Fraction(0))
    except _SearchCap:
        return None


class _SearchCap(Exception):
    pass


def _fold_sizes(samples: int, k: int) -> list[int]:
    """Test sizes of the k folds of a k-fold split of ``samples`` (as even as possible)."""
    q, r = divmod(samples, k)
    return [q + 1] * r + [q] * (k - r)


# ----------------------------------------------------------------------------- hypotheses
@dataclass
class Verdict:
    """One hypothesis tested against one reported accuracy."""

    hypothesis: str
    test_samples: str
    consistent: bool
    detail: str
    needs: str = ""
    """What a consistent hypothesis needs to print the number (repeats, a factor, T and s)."""
    bounded: bool = True
    """False where the hypothesis puts no upper bound on the test size: every multiple of the
    smallest test size is then allowed, so it cannot be excluded by construction (``open``)."""
    amount: int | None = None
    """The smallest number of repeats or the smallest augmentation factor that prints it."""
    nearby: tuple[int, int] | None = None
    """For an exclusion that rests on an exact count: (how many of the counts near it would print
    the number, how many were tried); a nonzero first entry makes the exclusion fragile."""

    @property
    def label(self) -> str:
        if not self.bounded:
            return "open"
        return "consistent" if self.consistent else "excluded"


def _nearby(count: int, sizes_of, percent: float, spread: int | None = None) -> tuple[int, int]:
    """How many of the counts within ``spread`` (default ``fragility_spread``) of ``count``
    (itself left out) give a test size that prints ``percent``: an exclusion with any such count
    hangs on the exact count (a few clips more or fewer in the real files, and it would print).
    Counts of frames and windows use one per clip as their spread: whether onset and offset are
    both counted changes every clip by a frame."""
    spread = int(_table()["fragility_spread"]) if spread is None else spread
    tried = [c for c in range(count - spread, count + spread + 1) if c != count and c > 0]
    hits = sum(any(prints(n, percent) is not None for n in sizes_of(c)) for c in tried)
    return hits, len(tried)


def _sizes_verdict(
    name: str,
    count: int,
    percent: float,
    what: str,
    sizes_of=None,
    needs: str = "",
    spread: int | None = None,
) -> Verdict:
    """The test part of ``count`` samples (``sizes_of(count)``, default: the test fraction)."""
    sizes_of = sizes_of or _test_sizes
    sizes = sizes_of(count)
    hit = [n for n in sizes if prints(n, percent) is not None]
    shown = " or ".join(map(str, sizes))
    if hit:
        k = prints(hit[0], percent)
        return Verdict(
            name, shown, True, f"{what}: {k}/{hit[0]} prints {percent:.2f} %", needs=needs
        )
    return Verdict(
        name,
        shown,
        False,
        f"{what}: no k out of {shown} prints {percent:.2f} %",
        nearby=_nearby(count, sizes_of, percent, spread),
    )


def _range_verdict(name: str, low: int, high: int | None, percent: float, what: str) -> Verdict:
    shown = f"{low}-{high}" if high is not None else f"at least {low}"
    n = any_prints(low, high, percent)
    if n is None:
        return Verdict(
            name, shown, False, f"{what}: no test size in {shown} prints {percent:.2f} %"
        )
    detail = f"{what}: e.g. {prints(n, percent)}/{n}"
    if high is None:
        detail += "; no upper bound on the test size, so no printed number can exclude it"
    return Verdict(name, shown, True, detail, bounded=high is not None)


def _repeats_verdict(s: Structure, percent: float) -> Verdict:
    """Averaged clip splits: the mean of r accuracies on equal test parts is k / (r n)."""
    table = _table()
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
    return Verdict(
        "repeats",
        f"r x {' or '.join(map(str, clip_tests))}",
        found is not None,
        f"needs at least r = {found[0]} repeated splits (mean of {found[0]} accuracies)"
        if found
        else f"no r up to {table['max_repeats']}",
        needs=f"r >= {found[0]}" if found else "",
        amount=found[0] if found else None,
    )


def _cv_mean_verdict(dataset: str, s: Structure, percent: float) -> Verdict:
    """The mean of the fold accuracies of a k-fold cross-validation of the clips (k from
    ``cv_folds``, folds as even as possible) or of leave-one-subject-out (one fold per subject,
    its clips)."""
    folds = [int(k) for k in _table()["cv_folds"]]
    subjects = config.subjects()
    own = subjects[subjects["dataset"] == dataset]
    per_subject = [int(sum(int(r[c]) for c in config.CLASSES)) for _, r in own.iterrows()]
    per_subject = [n for n in per_subject if n > 0]
    tries = {f"{k}-fold": _fold_sizes(s.clips, k) for k in folds}
    tries[f"LOSO ({len(per_subject)} subjects)"] = per_subject
    found, undecided = [], []
    for name, sizes in tries.items():
        ok = mean_prints(sizes, percent)
        (found if ok else undecided if ok is None else []).append(name)
    shown = ", ".join(tries)
    if found:
        return Verdict(
            "cv-mean",
            shown,
            True,
            f"the mean of the fold accuracies of {', '.join(found)} can print {percent:.2f} %",
            needs=" or ".join(found),
        )
    detail = f"no mean of the fold accuracies of {shown} prints {percent:.2f} %"
    if undecided:
        detail += f" (the exact search stopped undecided for {', '.join(undecided)})"
    nearby = [
        any(mean_prints(_fold_sizes(c, k), percent) for k in folds)
        for c in range(
            s.clips - int(_table()["fragility_spread"]),
            s.clips + int(_table()["fragility_spread"]) + 1,
        )
        if c != s.clips
    ]
    return Verdict("cv-mean", shown, bool(undecided), detail, nearby=(sum(nearby), len(nearby)))


def hypotheses(dataset: str, variant: str, percent: float) -> list[Verdict]:
    """Every hypothesis of :data:`HYPOTHESES` (and the dataset's ``other_material``) tested
    against the accuracy ``percent`` the paper prints for ``variant`` on ``dataset``."""
    s = structure(dataset)
    table = _table()
    frac = table["test_fraction"]
    out = [_sizes_verdict("clips", s.clips, percent, f"{s.clips} clips")]
    out.append(_repeats_verdict(s, percent))
    out.append(
        _sizes_verdict(
            "cv-pooled",
            s.clips,
            percent,
            f"{s.clips} clips, each tested once",
            sizes_of=lambda c: [c],
        )
    )
    out.append(_cv_mean_verdict(dataset, s, percent))

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
                needs=f"f >= {found}" if found else "",
                amount=found,
            )
        )
    elif switches["smote"]:
        pool = len(config.CLASSES) * max(s.per_class.values())
        out.append(_sizes_verdict("resampled", pool, percent, f"SMOTE to {pool} balanced samples"))
    else:
        out.append(
            Verdict("resampled", "–", False, "the variant resamples nothing: no copies to split")
        )

    if s.lengths is not None:
        frames = sum(s.lengths)
        out.append(_sizes_verdict("frames", frames, percent, f"{frames} frames", spread=s.clips))
    else:
        lo, hi = s.length_range
        low, high = (math.floor(frac * lo * s.clips), math.ceil(frac * hi * s.clips))
        out.append(
            _range_verdict("frames", low, high, percent, f"{lo}-{hi} frames per clip (assumed)")
        )

    out.append(_windows_verdict(s, percent))

    for extra in table.get("other_material", {}).get(dataset, []):
        name = extra["name"]
        clips = int(extra["clips"])
        out.append(
            _sizes_verdict(f"clips of {name}", clips, percent, "clips")
            if clips * frac < smallest_test_size(percent)[0]
            else _range_verdict(f"clips of {name}", 1, math.ceil(frac * clips), percent, "clips")
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
    frac = _table()["test_fraction"]
    hits, near, tried = [], 0, 0
    for T in lengths_tried:
        for stride in range(1, T + 1):
            tried += 1
            if s.lengths is not None:
                count = _windows(s.lengths, T, stride)
                if any(prints(n, percent) is not None for n in _test_sizes(count)):
                    hits.append((T, stride, count))
                else:
                    near += _nearby(count, _test_sizes, percent, s.clips)[0] > 0
            else:
                lo, hi = s.length_range
                low = math.floor(frac * s.clips * _windows([lo], T, stride))
                high = math.ceil(frac * s.clips * _windows([hi], T, stride))
                if any_prints(low, high, percent) is not None:
                    hits.append((T, stride, None))
    label = f"T in {lengths_tried}, s = 1..T"
    if not hits:
        return Verdict(
            "windows",
            label,
            False,
            f"none of the {tried} (T, s) pairs prints it",
            nearby=(near, tried) if s.lengths is not None else None,
        )
    T, stride, count = max(hits, key=lambda p: (p[1], -p[0]))
    per_clip = f" ({count / s.clips:.1f} windows per clip)" if count else ""
    return Verdict(
        "windows",
        label,
        True,
        f"{len(hits)} of {tried} (T, s) pairs print it, e.g. T = {T}, s = {stride}{per_clip}",
        needs=f"{len(hits)} of {tried} (T, s)",
    )


def windows_needed(dataset: str, percent: float, limit: int = 1000) -> int | None:
    """The fewest windows per clip w (every clip giving w windows) for which a 10 % test part of
    w x clips windows prints ``percent``; None if no w up to ``limit`` does."""
    clips = structure(dataset).clips
    return next(
        (
            w
            for w in range(1, limit + 1)
            if any(prints(n, percent) is not None for n in _test_sizes(w * clips))
        ),
        None,
    )


# ----------------------------------------------------------------------------- tables
def own_rows() -> pd.DataFrame:
    """The paper's 16 own rows: dataset, variant, reported accuracy (%) and F1."""
    return reference.own_rows()


def table() -> pd.DataFrame:
    """Every own row x every hypothesis (long form): dataset, variant, reported accuracy, the
    smallest test size that prints it, the hypothesis, its test samples, verdict (``consistent``,
    ``excluded``, or ``open``: no upper bound, so it cannot be excluded), what a consistent one
    needs, whether an exclusion is fragile, and the detail."""
    return pd.DataFrame(_rows())


@cache
def _rows() -> tuple[dict, ...]:
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
                    "verdict": v.label,
                    "needs": v.needs,
                    "needs n": v.amount,
                    "fragile": _fragile(v),
                    "detail": v.detail,
                }
            )
    return tuple(rows)


def _fragile(v: Verdict) -> str:
    """For an exclusion resting on an exact count: how many nearby counts print the number."""
    if v.consistent or v.nearby is None or v.nearby[0] == 0:
        return ""
    hits, tried = v.nearby
    if v.hypothesis == "windows":
        return f"{hits} of {tried} (T, s) pairs have a window count nearby that prints it"
    return f"{hits} of {tried} nearby counts print it"


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


def needs_range(hypothesis: str, long: pd.DataFrame | None = None) -> tuple[int, int] | None:
    """The smallest and largest count (repeats r, factor f) that the rows a counted hypothesis
    explains need: "consistent" alone hides that 143 averaged splits are not 10."""
    long = table() if long is None else long
    got = long[(long["hypothesis"] == hypothesis) & long["needs n"].notna()]["needs n"]
    return (int(got.min()), int(got.max())) if len(got) else None


def open_hypotheses(long: pd.DataFrame | None = None) -> list[str]:
    """The hypotheses that put no upper bound on the test size (never counted as explaining)."""
    long = table() if long is None else long
    return list(dict.fromkeys(long[long["verdict"] == "open"]["hypothesis"]))


def fragile(long: pd.DataFrame | None = None) -> pd.DataFrame:
    """The exclusions that hang on one exact count (a nearby count would print the number)."""
    long = table() if long is None else long
    return long[(long["verdict"] == "excluded") & (long["fragile"] != "")]


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
