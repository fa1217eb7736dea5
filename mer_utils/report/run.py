"""The reproducibility page: how every page and every number of the book was produced."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import results
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
    return pd.DataFrame(rows).rename(columns={"key": "page", "finished": "finished (UTC)"}).set_index("page")


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
    df = ordered(df).assign(device=lambda d: d["device"].map(
        lambda v: f"{v['kind']}: {v['name']} x{v['count']}" if isinstance(v, dict) else ""))
    cols = ["dataset", "variant", "protocol", "repeat", "seed", "split_seed", "data_kind",
            "data_root", "data_annotation", "profile", "n_clips", "n_folds", "device", "seconds",
            "timestamp"]
    versions = [c for c in df.columns if c.startswith("version_")]
    return df[cols + versions].set_index(["dataset", "variant", "protocol", "repeat"])
