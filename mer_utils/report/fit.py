"""Did the model fit what it was trained on? The training-part fit of every fold, on the method
pages and the evaluation pages.

Every fold keeps the accuracy and UF1 of its selected model on the samples it was trained on
(``folds.csv``: ``train_accuracy``, ``train_uf1``; the training part after resampling), and for
the 3D CNN how many epochs ran and which was kept (``epochs``, ``best_epoch``). A test score near
chance means one thing when the model fitted its training part (what it learned does not carry
over to the test part) and another when it did not (it learned nothing at all, and the test
score says nothing about the method). Nothing here computes a fit: the numbers are the folds'.
"""

from __future__ import annotations

import pandas as pd

from .style import markdown, ordered, score, table
from .text import say

FITTED = 0.9
"""Training UF1 from which a fold counts as having fitted its training part (this study's
choice of words, not a test: a training part is not a sample from anywhere)."""
NOT_FITTED = 0.6
"""Training UF1 below which a fold counts as not having fitted its training part."""


def spread(values) -> str:
    """``0.97 (0.91–1.00)``: the mean over folds and, in brackets, its range (not an interval);
    ``–`` where no fold kept its fit."""
    values = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    if values.empty:
        return "–"
    if len(values) == 1 or values.min() == values.max():
        return score(values.mean()) + ("" if len(values) == 1 else " (all folds)")
    return f"{score(values.mean())} ({score(values.min())}–{score(values.max())})"


def epochs(part: pd.DataFrame) -> str:
    """Epochs run and the epoch kept, over the folds: ``8 run; kept 1–8 (median 3)``; ``–`` for
    a method without epochs."""
    ran = pd.to_numeric(part["epochs"], errors="coerce").dropna()
    kept = pd.to_numeric(part["best_epoch"], errors="coerce").dropna()
    if ran.empty:
        return "–"
    run = f"{int(ran.min())}" if ran.min() == ran.max() else f"{int(ran.min())}–{int(ran.max())}"
    if kept.empty:
        return f"{run} run"
    lo, hi = int(kept.min()), int(kept.max())
    chosen = f"{lo}" if lo == hi else f"{lo}–{hi} (median {kept.median():g})"
    return f"{run} run; kept {chosen}"


def fit_rows(res, by=("method", "protocol")) -> pd.DataFrame:
    """One row per ``by`` group of folds: the folds, training accuracy and UF1 as
    :func:`spread`, their means and minima, and :func:`epochs`."""
    folds = res.folds
    if folds.empty or "train_accuracy" not in folds:
        return pd.DataFrame()
    rows = []
    for key, part in folds.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        uf1 = pd.to_numeric(part["train_uf1"], errors="coerce")
        rows.append(
            {
                **dict(zip(by, key)),
                "folds": int(len(part)),
                "train accuracy": spread(part["train_accuracy"]),
                "train UF1": spread(part["train_uf1"]),
                "mean_uf1": uf1.mean(),
                "min_uf1": uf1.min(),
                "epochs": epochs(part),
            }
        )
    out = pd.DataFrame(rows)
    return ordered(out, [c for c in ("dataset", "method", "protocol") if c in by])


def fit_cells(res) -> dict[tuple[str, str], str]:
    """(method, protocol) -> the training UF1 as :func:`spread` (the evaluation page's column)."""
    got = fit_rows(res)
    if got.empty:
        return {}
    return {(r["method"], r["protocol"]): r["train UF1"] for r in got.to_dict("records")}


def fit_table(res):
    """The method page's table: per protocol, the folds' fit on their training parts (accuracy
    and UF1, mean over folds with their range) and the epochs run and kept."""
    got = fit_rows(res, by=("protocol",))
    if got.empty:
        return markdown(say("fit.no_fit"))
    got = got.reset_index(drop=True)
    out = got[["protocol", "folds", "train accuracy", "train UF1", "epochs"]].copy()
    out["fit"] = [verdict(r) for r in got.to_dict("records")]
    return table(
        out,
        legend={
            "folds": say("fit.legend.folds"),
            "train accuracy, train UF1": say("fit.legend.train"),
            "epochs": say("fit.legend.epochs"),
            "fit": say("fit.legend.fit", fitted=f"{FITTED:g}", not_fitted=f"{NOT_FITTED:g}"),
        },
    )


def verdict(row: dict) -> str:
    """``fitted``, ``partly`` or ``not fitted`` from a :func:`fit_rows` row."""
    if pd.isna(row["mean_uf1"]):
        return "–"
    if row["min_uf1"] >= FITTED:
        return "fitted"
    if row["mean_uf1"] < NOT_FITTED:
        return "not fitted"
    return "partly"


def fit_sentence(res) -> str:
    """One sentence, computed from the folds: under which protocols the model fitted its
    training part, and what a test score near chance then means."""
    got = fit_rows(res, by=("protocol",))
    if got.empty:
        return ""
    said = {
        v: [r["protocol"] for r in got.to_dict("records") if verdict(r) == v]
        for v in ("fitted", "partly", "not fitted")
    }
    keys = {"fitted": "fit.fitted", "partly": "fit.partly", "not fitted": "fit.not_fitted"}
    parts = [say(keys[v], protocols=_list(protocols)) for v, protocols in said.items() if protocols]
    if not parts:
        return ""
    return say("fit.sentence", parts="; ".join(parts))


def _list(items: list[str]) -> str:
    items = [f"`{i}`" for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ----------------------------------------------------------------------------- the positive control
def learning_onset(rows: pd.DataFrame, alpha: float = 0.05) -> dict[str, float | None]:
    """Per method of the dose-response rows (``benchmarks/results/dose_response.csv``): the
    smallest amplitude from which its UF1 is above its permutation chance level (p < ``alpha``)
    at that and at every larger amplitude measured; None where it never is."""
    out: dict[str, float | None] = {}
    rows = rows.assign(amplitude_px=rows["amplitude_px"].astype(float))
    for method, part in rows.groupby("method", sort=False):
        part = part.sort_values("amplitude_px")
        above = (part["p_uf1"].astype(float) < alpha).to_numpy()
        amps = part["amplitude_px"].astype(float).to_numpy()
        onset = None
        for i in range(len(amps) - 1, -1, -1):
            if not above[i]:
                break
            onset = float(amps[i])
        out[str(method)] = onset
    return out


def dose_response_figure(rows: pd.DataFrame, dataset: str = ""):
    """UF1 of each method against the stand-ins' motion amplitude (log axis) with its 95 %
    interval and its permutation chance level, and beside it the fit on the training part.
    Filled markers: above chance (p < 0.05). Stand-in data only; no paper number is drawn."""
    import matplotlib.pyplot as plt

    from .style import WIDTH, close, colours

    rows = rows.assign(amplitude_px=rows["amplitude_px"].astype(float))
    methods = list(dict.fromkeys(rows["method"]))
    colour = colours(methods)
    fig, (ax, fit_ax) = plt.subplots(
        1, 2, figsize=(WIDTH, 3.8), gridspec_kw={"width_ratios": [3, 2]}
    )
    for m in methods:
        part = rows[rows["method"] == m].sort_values("amplitude_px")
        x = part["amplitude_px"].astype(float).to_numpy()
        u = part["uf1"].astype(float).to_numpy()
        err = [
            u - part["uf1_low"].astype(float).to_numpy(),
            part["uf1_high"].astype(float).to_numpy() - u,
        ]
        ax.errorbar(x, u, yerr=err, color=colour[m], lw=1.3, capsize=2, label=m)
        above = part["p_uf1"].astype(float).to_numpy() < 0.05
        ax.scatter(x[above], u[above], color=colour[m], zorder=3, s=22)
        ax.scatter(x[~above], u[~above], facecolor="white", edgecolor=colour[m], zorder=3, s=22)
        ax.plot(x, part["chance_uf1"].astype(float), color=colour[m], ls=":", lw=1)
        fit_ax.plot(x, part["train_uf1"].astype(float), marker="o", ms=3, color=colour[m])
    for a in (ax, fit_ax):
        a.set_xscale("log")
        ticks = sorted(set(rows["amplitude_px"].astype(float)))
        a.set_xticks(ticks, [f"{t:g}" for t in ticks])
        a.minorticks_off()
        a.axvline(3, color="grey", lw=0.8, ls="--")
        a.set_xlabel("motion amplitude (px on a 200 px face)")
        a.set_ylim(0, 1.02)
    ax.set_ylabel("test UF1, unseen subjects")
    fit_ax.set_ylabel("training-part UF1 (mean over folds)")
    where = f" ({dataset})" if dataset else ""
    ax.set_title(f"Stand-in data{where}: UF1 [95 % CI], chance dotted", fontsize=9)
    fit_ax.set_title("Fit on the training part", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(methods), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return close(fig)
