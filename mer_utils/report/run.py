"""The reproducibility page: how every page and every number of the book was produced."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import config, results
from ..datasets import display_name
from .style import markdown, ordered


def load_manifest(results_dir: str | Path) -> dict:
    """The runner's record of the latest run (``manifest.json``); a clear error if absent."""
    path = results.manifest_path(results_dir)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no run manifest; this page is written by `python -m mer_utils.study`"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def run_summary(manifest: dict) -> pd.DataFrame:
    """The run as a whole: command, profile, time written, page counts by status, duration."""
    statuses = pd.Series([p["status"] for p in manifest["pages"]]).value_counts()
    seconds = sum(p.get("seconds") or 0 for p in manifest["pages"])
    rows = [
        ("command", manifest["command"]),
        ("profile", manifest["profile"]),
        ("manifest written (UTC)", manifest["written"]),
        ("pages", len(manifest["pages"])),
        *((f"pages {status}", int(n)) for status, n in statuses.items()),
        ("execution time of the pages, summed (s)", round(seconds)),
    ]
    if manifest.get("wall_seconds") is not None:
        rows.append(("wall-clock time of the run so far (s)", round(manifest["wall_seconds"])))
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def sources_table(manifest: dict) -> pd.DataFrame:
    """Data source (kind, folder) of every dataset in the run."""
    rows = [
        {"dataset": display_name(n), "data": s["kind"], "folder": s["dir"]}
        for n, s in manifest["sources"].items()
    ]
    return pd.DataFrame(rows).set_index("dataset")


def licensed_pages_table(manifest: dict):
    """Which pages of the run used licensed data (and so may only be published where the
    dataset's licence allows)."""
    from ..study import licensed_pages

    pages = licensed_pages(manifest)
    if not pages:
        return markdown(
            "No page of this run used licensed data: every number comes from stand-ins."
        )
    return pd.DataFrame({"page": pages, "data": "licensed"}).set_index("page")


def profile_table(manifest: dict) -> pd.DataFrame:
    """The parameters of the run's profile."""
    params = manifest["profile_parameters"]
    return pd.DataFrame(
        [(k, json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in params.items()],
        columns=["parameter", manifest["profile"]],
    ).set_index("parameter")


def other_pages_table(manifest: dict):
    """Pages of the book the latest run did not execute: left from an earlier run, or never
    executed (placeholders)."""
    rows = manifest.get("other_pages", [])
    if not rows:
        return markdown("Every page of the book was produced by this run.")
    return (
        pd.DataFrame(rows)
        .rename(columns={"key": "page", "finished": "finished (UTC)"})
        .set_index("page")
    )


def pages_table(manifest: dict) -> pd.DataFrame:
    """Every page of the run: status, seconds, finish time, template, error."""
    rows = [
        {
            "page": p["key"],
            "status": p["status"],
            "seconds": p.get("seconds"),
            "finished (UTC)": p.get("finished", ""),
            "template": p["template"],
            "error": p.get("error", ""),
        }
        for p in manifest["pages"]
    ]
    return pd.DataFrame(rows).set_index("page")


def provenance_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per record: data source, seed, repeat, profile, device, time, duration and versions."""
    if df.empty:
        return pd.DataFrame({"": ["no result records"]})
    df = ordered(df).assign(
        device=lambda d: d["device"].map(
            lambda v: f"{v['kind']}: {v['name']} x{v['count']}" if isinstance(v, dict) else ""
        )
    )
    cols = [
        "dataset",
        "variant",
        "protocol",
        "repeat",
        "seed",
        "split_seed",
        "data_kind",
        "data_root",
        "data_annotation",
        "profile",
        "n_clips",
        "n_folds",
        "device",
        "seconds",
        "timestamp",
    ]
    versions = [c for c in df.columns if c.startswith("version_")]
    return df[cols + versions].set_index(["dataset", "variant", "protocol", "repeat"])


def time_table(manifest: dict, df: pd.DataFrame) -> pd.DataFrame:
    """Where the time goes: seconds per kind of page (summed over datasets, kernel start-up
    included) and, for the method pages, the trainings they ran and the mean seconds of one
    training (a fold)."""
    pages = pd.DataFrame(
        [
            {
                "page": p["key"].split("/")[-1],
                "seconds": p.get("seconds") or 0.0,
                "status": p["status"],
            }
            for p in manifest["pages"]
        ]
    )
    if pages.empty:
        return pd.DataFrame({"": ["no pages"]})
    out = pages[pages["status"] == "ok"].groupby("page")["seconds"].agg(["count", "sum"])
    out.columns = ["pages run", "seconds"]
    if not df.empty:
        pages_of = {m["page"]: k for k, m in config.methods().items()}
        folds = (
            df[df["seconds"] > 0]
            .groupby("variant")
            .agg(trainings=("n_folds", "sum"), seconds=("seconds", "sum"))
        )
        for page, variant in pages_of.items():
            if page in out.index and variant in folds.index:
                out.loc[page, "trainings"] = int(folds.loc[variant, "trainings"])
                out.loc[page, "seconds per training"] = round(
                    folds.loc[variant, "seconds"] / folds.loc[variant, "trainings"], 2
                )
    out["share of all page time (%)"] = (100 * out["seconds"] / out["seconds"].sum()).round(1)
    return out.sort_values("seconds", ascending=False).round({"seconds": 0})
