"""The reproducibility page: how every page and every number of the book was produced."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import config, results
from ..datasets import display_name
from .banners import shown_path
from .style import count, markdown, ordered, table
from .text import say

FINISHED = ("ok", "cached")


def load_manifest(results_dir: str | Path) -> dict:
    """The runner's record of the latest run (``manifest.json``); a clear error if absent."""
    path = results.manifest_path(results_dir)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no run manifest; this page is written by `python -m mer_utils.build`"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def _others(manifest: dict) -> list[dict]:
    """The pages of the run other than this one (which is still running as it reads)."""
    return [p for p in manifest["pages"] if p["key"] != "summary/reproducibility"]


def run_summary(manifest: dict):
    """The run as a whole: command, profile, when, pages by status, and the time it took.

    This page runs after every other page of the run, so their statuses are final; the time is
    the runner's wall-clock time from its start to the start of this page."""
    pages = _others(manifest)
    statuses = pd.Series([p["status"] for p in pages]).value_counts()
    seconds = sum(p.get("seconds") or 0 for p in pages)
    rows = [
        ("command", manifest["command"]),
        ("profile", manifest["profile"]),
        ("run started (UTC)", manifest.get("started", "")),
        ("pages (besides this one)", count(len(pages))),
        *((f"pages {status}", count(n)) for status, n in statuses.items()),
        ("execution time of those pages, summed (s)", count(round(seconds))),
    ]
    if manifest.get("wall_seconds") is not None:
        rows.append(
            ("wall-clock time until this page started (s)", count(round(manifest["wall_seconds"])))
        )
    return table(pd.DataFrame(rows, columns=["", "value"]))


def sources_table(manifest: dict):
    """Data source (kind, folder relative to the repository) of every dataset in the run."""
    rows = [
        {"dataset": display_name(n), "data": s["kind"], "folder": shown_path(s["dir"])}
        for n, s in manifest["sources"].items()
    ]
    return table(pd.DataFrame(rows))


def licensed_pages_table(manifest: dict):
    """Which pages of the run used licensed data (and so may only be published where the
    dataset's licence allows)."""
    pages = results.licensed_pages(manifest)
    if not pages:
        return markdown(say("run.no_licensed"))
    return table(pd.DataFrame({"page": pages, "data": "licensed"}))


def profile_table(manifest: dict):
    """The values of the run's profile, nested values one per row (``augmentation.factor``)."""

    def flat(prefix: str, value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield from flat(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            yield prefix, ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    rows = list(flat("", manifest["profile_parameters"]))
    return table(
        pd.DataFrame(rows, columns=["parameter", manifest["profile"]]),
        collapsed=f"Every parameter of the {manifest['profile']} profile",
    )


def other_pages_table(manifest: dict):
    """Pages of the book the latest run did not execute: left from an earlier run, or never
    executed (placeholders)."""
    rows = manifest.get("other_pages", [])
    if not rows:
        return markdown(say("run.all_pages"))
    out = pd.DataFrame(rows).rename(columns={"key": "page", "finished": "finished (UTC)"})
    return table(out[["page", "status", "finished (UTC)"]])


def pages_table(manifest: dict):
    """Every other page of the run: status, seconds, finish time, template, error."""
    rows = [
        {
            "page": p["key"],
            "status": p["status"],
            "seconds": count(p.get("seconds")),
            "finished (UTC)": (p.get("finished") or "")[11:19],
            "template": Path(p["template"]).name,
            "error": p.get("error", ""),
        }
        for p in _others(manifest)
    ]
    out = pd.DataFrame(rows)
    if not out["error"].astype(bool).any():
        out = out.drop(columns="error")
    failed = int((out["status"].isin(["failed", "skipped"])).sum())
    return table(
        out,
        legend={"finished (UTC)": f"on {manifest.get('written', '')[:10]}"},
        collapsed=f"Every page of the run: {len(out) - failed} succeeded, {failed} did not",
    )


def versions_table(res):
    """The package versions the runs recorded (one row per distinct set)."""
    if res.empty:
        return markdown(say("run.no_records"))
    cols = [c for c in res.metrics.columns if c.startswith("version_")]
    out = res.metrics[cols].drop_duplicates()
    out.columns = [c.removeprefix("version_") for c in cols]
    return table(out.astype(str))


def provenance_table(res):
    """Per run: protocol, repeat, seeds, device, time and duration (the key, data id and
    profile id are in the downloadable ``metrics.csv``)."""
    if res.empty:
        return markdown(say("run.no_records"))
    df = ordered(res.metrics)
    out = pd.DataFrame(
        {
            "dataset": df["dataset"].map(display_name),
            "method": df["method"].str.replace("MER-", ""),
            "protocol": df["protocol"],
            "run": df["repeat"].map(str),
            "split seed": df["split_seed"].map(str),
            "device": df["device_kind"]
            + ": "
            + df["device_count"].map(str)
            + " x "
            + df["device_name"].str.slice(0, 24),
            "s": df["seconds"].map(lambda v: f"{v:.1f}"),
            "time (UTC)": df["timestamp"].str.slice(11, 19),
        }
    )
    return table(
        out,
        legend={"s": "seconds the run took (its folds' training and prediction)"},
        collapsed="Every run: dataset, method, protocol, seeds, device and time",
    )


def time_table(manifest: dict, res):
    """Where the time goes: seconds per kind of page (summed over datasets, kernel start-up
    included) and, for the method pages, the trainings they ran and the mean seconds of one."""
    pages = pd.DataFrame(
        [
            {
                "page": p["key"].split("/")[-1],
                "seconds": p.get("seconds") or 0.0,
                "status": p["status"],
            }
            for p in _others(manifest)
        ]
    )
    if pages.empty:
        return markdown("No pages.")
    out = pages[pages["status"] == "ok"].groupby("page")["seconds"].agg(["count", "sum"])
    out.columns = ["pages run", "seconds"]
    if not res.empty:
        pages_of = {m["page"]: k for k, m in config.methods().items()}
        runs = res.metrics[res.metrics["seconds"] > 0]
        folds = runs.groupby("method").agg(trainings=("n_folds", "sum"), seconds=("seconds", "sum"))
        for page, method in pages_of.items():
            if page in out.index and method in folds.index:
                out.loc[page, "trainings"] = folds.loc[method, "trainings"]
                out.loc[page, "s per training"] = (
                    folds.loc[method, "seconds"] / folds.loc[method, "trainings"]
                )
    out["share (%)"] = 100 * out["seconds"] / out["seconds"].sum()
    out = out.sort_values("seconds", ascending=False).reset_index()
    shown = pd.DataFrame(
        {
            "page": out["page"],
            "pages run": out["pages run"].map(count),
            "seconds": out["seconds"].map(lambda v: count(round(v))),
            "trainings": out.get("trainings", pd.Series(dtype=float)).map(count)
            if "trainings" in out
            else "–",
            "s per training": out.get("s per training", pd.Series(dtype=float)).map(
                lambda v: "–" if pd.isna(v) else f"{v:.2f}"
            )
            if "s per training" in out
            else "–",
            "share (%)": out["share (%)"].map(lambda v: f"{v:.1f}"),
        }
    )
    return table(shown, legend={"share (%)": "of all the page time of this run"})
