"""The results folder: the run tables, the parameters they name, predictions and the manifest.

Every number in the book is read from ``<results dir>/``:

=====================  =================================================================
``metrics.csv``        one row per run (:class:`mer_utils.schema.Record`)
``folds.csv``          one row per fold of a run (:class:`mer_utils.schema.Fold`)
``confusions.csv``     one row per test subject of a run (:class:`mer_utils.schema.Unit`)
``parameters.json``    every profile and method setting a run read, under its digest
``predictions/``       one file per run: its pooled per-sample test predictions
``manifest.json``      the runner's record of the latest run of the grid
=====================  =================================================================

Writing a run whose key (:data:`mer_utils.schema.KEY`) is already in the tables *replaces* its
rows (a re-run never adds a duplicate), atomically and under one lock, so concurrent notebooks
never lose each other's rows and an interrupted write never leaves a half-written table.
Reading validates every table against its schema and names the file, row and column of any
damage, or the two rows of a duplicated row (which would count its data twice). :func:`load` returns a :class:`Results`: the three tables, filtered alike.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from . import atomic, schema
from .schema import KEY

TABLES = tuple(schema.TABLES)
MANIFEST = "manifest.json"
PARAMETERS = "parameters.json"
PREDICTIONS_ZIP = "predictions.zip"


def table_path(results_dir: str | Path, name: str = "metrics.csv") -> Path:
    """``<results_dir>/<name>`` (default ``metrics.csv``)."""
    return Path(results_dir) / name


def manifest_path(results_dir: str | Path) -> Path:
    """``<results_dir>/manifest.json``: the runner's record of the latest run."""
    return Path(results_dir) / MANIFEST


def licensed_pages(manifest: dict) -> list[str]:
    """The pages of a run (its ``manifest.json``) that read licensed data: per-dataset pages of
    a licensed dataset, and the summary pages of a run with any licensed dataset."""
    out = []
    for page in manifest["pages"]:
        params = page.get("parameters", {})
        kinds = (
            [params["data_kind"]]
            if "data_kind" in params
            else list(params.get("data_kinds", {}).values())
        )
        if "licensed" in kinds:
            out.append(page["key"])
    return out


def params_id(params: dict) -> str:
    """A short digest of a parameter dict (profile or method settings)."""
    text = json.dumps(params, sort_keys=True, default=atomic.json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def predictions_name(record) -> str:
    """``predictions/<dataset>__<method>__<protocol>__<profile>__seed<s>__r<k>__<data>__<prof>.csv``
    relative to the results folder: one file per run key, so no other run overwrites it."""
    r = record if isinstance(record, dict) else dataclasses.asdict(record)
    return (
        f"predictions/{r['dataset']}__{r['method']}__{r['protocol']}__{r['profile']}"
        f"__seed{int(r['seed'])}__r{int(r['repeat'])}__{r['data_id']}__{r['profile_id']}"
        f"{_selection_suffix(r.get('selection', 'honest'))}.csv"
    )


def _selection_suffix(selection: str) -> str:
    """``""`` for an honest run (its file keeps its name), ``__<selection>`` otherwise."""
    return "" if selection in ("honest", "", None) else f"__{selection}"


# ----------------------------------------------------------------------------- one run
@dataclasses.dataclass
class Run:
    """What one run writes: its record, folds, per-subject confusions, pooled predictions and
    the parameters it read (``{"profile": ..., "method": ...}``)."""

    record: schema.Record
    folds: list[schema.Fold]
    units: list[schema.Unit]
    predictions: pd.DataFrame
    params: dict
    others: list["Run"] = dataclasses.field(default_factory=list)
    """Other scorings of the same training (another ``selection``: :data:`schema.SELECTIONS`),
    written beside it."""

    def relabelled(self, protocol: str) -> "Run":
        """A copy under another protocol whose computation is the same (e.g. ``paper-leaky`` of
        a method that resamples nothing is its ``paper`` run: nothing to leak)."""
        from . import protocols

        out = copy.deepcopy(self)
        for run in [out, *out.others]:
            for row in [run.record, *run.folds, *run.units]:
                row.protocol = protocol
            run.record.predictions_file = None
            run.record.seconds = 0.0
            if protocols.info(protocol)["resample_before_split"]:
                run.record.leak_test_from_clip_in_training = 0
                run.record.leak_test_augmented = 0
                run.record.leak_test_synthetic = 0
        return out


def write_run(results_dir: str | Path, run: Run) -> Run:
    """Write a run: its predictions file, its parameters, and its rows of the three tables
    (replacing the rows of an earlier run with the same key). Returns the run as written (with
    its ``predictions_file``). Its other scorings (``others``) are written too."""
    results_dir = Path(results_dir)
    for other in run.others:
        write_run(results_dir, other)
    run.record.predictions_file = predictions_name(run.record)
    atomic.write_text(
        results_dir / run.record.predictions_file,
        run.predictions[list(schema.PREDICTION_COLUMNS)].to_csv(index=False),
    )
    key = tuple(str(getattr(run.record, k)) for k in KEY)
    with atomic.locked(results_dir / "tables"):
        _merge_params(results_dir, run.params)
        for name, rows in (
            ("confusions.csv", run.units),
            ("folds.csv", run.folds),
            ("metrics.csv", [run.record]),  # last: a record means its details are written
        ):
            _replace_rows(results_dir / name, schema.TABLES[name], key, rows)
    return run


def _merge_params(results_dir: Path, params: dict) -> None:
    path = results_dir / PARAMETERS
    stored = json.loads(path.read_text()) if path.exists() else {}
    for value in params.values():
        stored.setdefault(params_id(value), value)
    atomic.write_json(path, stored)


def _replace_rows(path: Path, cls: type, key: tuple, rows: list) -> None:
    columns = schema.columns(cls)
    kept = []
    if path.exists():
        reader = csv.DictReader(io.StringIO(path.read_text("utf-8")))
        if list(reader.fieldnames or []) != list(columns):
            _check_header(path, cls, reader.fieldnames)
        rows_ = [{**schema.DEFAULTS, **r} for r in reader]  # an older table: its defaults
        kept = [r for r in rows_ if tuple(r.get(k, "") for k in KEY) != key]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(kept)
    writer.writerows(schema.row(r) for r in rows)
    atomic.write_text(path, buf.getvalue())


def _check_header(path: Path, cls: type, found) -> None:
    found = list(found or [])
    missing = [c for c in schema.columns(cls) if c not in found and c not in schema.DEFAULTS]
    if missing:
        raise schema.SchemaError(
            f"{path}: written by another version of the study or damaged: columns {missing} "
            "are missing; move it away (or delete the results folder) and run again"
        )


# ----------------------------------------------------------------------------- reading
class Results:
    """The three run tables, filtered alike: ``metrics`` (one row per run), ``folds`` and
    ``confusions`` (the rows of those runs)."""

    def __init__(
        self,
        metrics: pd.DataFrame,
        folds: pd.DataFrame,
        confusions: pd.DataFrame,
        sources: dict | None = None,
        subject_prefix: str = "",
    ):
        # Tables built before a key column existed (or by hand) get its default value.
        self.metrics, self.folds, self.confusions = (
            t.reset_index(drop=True).assign(
                **{k: v for k, v in schema.DEFAULTS.items() if k not in t.columns}
            )
            for t in (metrics, folds, confusions)
        )
        self.sources = dict(sources or {})
        """Run key -> its predictions (a DataFrame) or the results folder they are stored in."""
        self.subject_prefix = subject_prefix
        """Set by :meth:`part`: only test subjects whose name starts with it count."""

    def predictions(self, record: dict) -> pd.DataFrame | None:
        """The per-sample test predictions of one run (a row of ``metrics``), restricted to the
        subjects of :meth:`part`; None where they were not kept (tables built by hand)."""
        key = tuple(str(record[k]) for k in KEY)
        found = self.sources.get(key)
        if found is None:
            return None
        if not isinstance(found, pd.DataFrame):
            if pd.isna(record.get("predictions_file")) or not record.get("predictions_file"):
                return None
            found = predictions(found, record)
        if self.subject_prefix:
            found = found[found["subject"].astype(str).str.startswith(self.subject_prefix)]
        return found

    @classmethod
    def none(cls) -> "Results":
        """No runs."""
        return cls(*(pd.DataFrame(columns=schema.columns(c)) for c in schema.TABLES.values()))

    @classmethod
    def of_runs(cls, runs: Iterable[Run]) -> "Results":
        runs = list(runs)
        frames = [
            pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=schema.columns(table))
            for rows, table in (
                ([r.record for r in runs], schema.Record),
                ([f for r in runs for f in r.folds], schema.Fold),
                ([u for r in runs for u in r.units], schema.Unit),
            )
        ]
        sources = {tuple(str(getattr(r.record, k)) for k in KEY): r.predictions for r in runs}
        return cls(*frames, sources=sources)

    @classmethod
    def concat(cls, parts: Iterable["Results"]) -> "Results":
        """The runs of several :class:`Results` together."""
        parts = [p for p in parts if not p.empty]
        empty = cls.none()

        def joined(table: str) -> pd.DataFrame:
            # Frames without rows are left out: pandas would otherwise let their (empty)
            # columns decide the joined dtypes.
            frames = [getattr(p, table) for p in parts if len(getattr(p, table))]
            if not frames:
                return getattr(empty, table)
            with warnings.catch_warnings():  # a column all empty in one part (e.g. no windows)
                warnings.filterwarnings("ignore", "The behavior of DataFrame concatenation")
                return pd.concat(frames, ignore_index=True)

        sources = {k: v for p in parts for k, v in p.sources.items()}
        prefixes = {p.subject_prefix for p in parts}
        return cls(
            *(joined(t) for t in ("metrics", "folds", "confusions")),
            sources=sources,
            subject_prefix=prefixes.pop() if len(prefixes) == 1 else "",
        )

    def __len__(self) -> int:
        return len(self.metrics)

    @property
    def empty(self) -> bool:
        return self.metrics.empty

    def select(self, mask) -> "Results":
        """The runs where ``mask`` (a boolean Series over ``metrics``) holds, with their rows."""
        chosen = self.metrics[mask]
        keys = set(_keys(chosen))
        return Results(
            chosen,
            self.folds[[k in keys for k in _keys(self.folds)]],
            self.confusions[[k in keys for k in _keys(self.confusions)]],
            sources={k: v for k, v in self.sources.items() if k in keys},
            subject_prefix=self.subject_prefix,
        )

    def where(self, **values) -> "Results":
        """The runs whose columns equal the given values (a list or set: any of them)."""
        mask = pd.Series(True, index=self.metrics.index)
        for column, value in values.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple, set, frozenset)):
                mask &= self.metrics[column].isin(list(value))
            else:
                mask &= self.metrics[column] == value
        return self.select(mask)

    def part(self, part: str) -> "Results":
        """The runs seen through one part of a composite (its test subjects ``<part>/...``):
        the same runs and folds, the confusions of those subjects only, and each run's test
        counts summed over them. Scores of a part are those of the same predictions."""
        units = self.confusions[self.confusions["subject"].str.startswith(f"{part}/")]
        cms = units[list(schema.CONFUSION_COLUMNS)].sum(axis=1)
        tested = cms.groupby([units[k].astype(str) for k in KEY]).sum()
        metrics = self.metrics.copy()
        n = [int(tested.get(k, 0)) for k in _keys(metrics)]
        metrics["n_test"] = n
        metrics["n_test_clips"] = n
        return Results(metrics, self.folds, units, sources=self.sources, subject_prefix=f"{part}/")

    def groups(self, by: Iterable[str]):
        """``(values, Results)`` per group of ``metrics`` rows, in the rows' order."""
        by = list(by)
        for values, group in self.metrics.groupby(by, sort=False):
            yield values, self.select(self.metrics.index.isin(group.index))


def _keys(df: pd.DataFrame) -> list[tuple]:
    if df.empty:
        return []
    return list(zip(*(df[k].astype(str) for k in KEY)))


def load(
    results_dir: str | Path,
    profile: str | None = None,
    datasets: Iterable[str] | None = None,
    seed: int | None = None,
    methods: Iterable[str] | None = None,
    data_ids: dict[str, str] | None = None,
    profile_id: str | dict[str, str] | None = None,
    selection: str | None = "honest",
) -> Results:
    """The run tables of ``results_dir``, validated, filtered by the given values.

    ``data_ids`` (dataset -> data id) keeps only the runs on the data each dataset was read
    from in this run of the grid; ``profile_id`` only the runs under the current values of the
    profile. ``selection`` keeps the runs of one way of choosing the epoch (default: the
    honest runs; None: every run, e.g. the benchmark page's scores as published). An absent
    folder or table gives empty tables (pages then say nothing was run).
    """
    tables = {}
    for name, cls in schema.TABLES.items():
        path = table_path(results_dir, name)
        if not path.exists():
            tables[name] = pd.DataFrame(columns=schema.columns(cls))
            continue
        tables[name] = schema.validate(_read_rows(path), cls, str(path))
        schema.check_unique(tables[name], cls, str(path))
    stored = Path(results_dir)
    out = Results(
        tables["metrics.csv"],
        tables["folds.csv"],
        tables["confusions.csv"],
        sources={k: stored for k in _keys(tables["metrics.csv"])},
    )
    m = out.metrics
    mask = pd.Series(True, index=m.index)
    if profile is not None:
        mask &= m["profile"] == profile
    if selection is not None:
        mask &= m["selection"] == selection
    if datasets is not None:
        mask &= m["dataset"].isin(list(datasets))
    if seed is not None:
        mask &= m["seed"] == int(seed)
    if methods is not None:
        mask &= m["method"].isin(list(methods))
    if data_ids is not None:
        mask &= np.array([data_ids.get(d) == i for d, i in zip(m["dataset"], m["data_id"])], bool)
    if isinstance(profile_id, dict):  # per dataset: the values each dataset runs under
        mask &= m["profile_id"] == m["dataset"].map(profile_id)
    elif profile_id is not None:
        mask &= m["profile_id"] == profile_id
    return out.select(mask)


def current(
    results_dir: str | Path,
    profile: str,
    datasets: Iterable[str],
    seed: int,
    data_ids: dict[str, str] | None = None,
    selection: str | None = "honest",
) -> Results:
    """The runs a page shows: its profile at the profile's current values, its datasets and
    seed and, where given, the data each dataset was read from in this run of the grid. Runs
    made under other profile values or on other data stay in the tables but are not shown."""
    from . import config

    return load(
        results_dir,
        profile=profile,
        datasets=list(datasets),
        seed=seed,
        data_ids=data_ids or None,
        profile_id={d: params_id(config.profile(profile, d)) for d in datasets},
        selection=selection,
    )


def _read_rows(path: Path) -> pd.DataFrame:
    """A results table as text cells; a row with another number of cells than the header (a
    truncated or damaged line) is an error naming the file and the row."""
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise schema.SchemaError(f"{path}: not a readable results table ({exc})") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise schema.SchemaError(f"{path}: empty, not a results table")
    rows = []
    for line, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise schema.SchemaError(
                f"{path}: row {line} has {len(row)} cells, the header {len(header)} "
                "(a truncated or damaged line); move the file away and run again"
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=header, dtype=str)


def parameters(results_dir: str | Path) -> dict:
    """``parameters.json``: digest -> the profile or method settings a run read."""
    path = Path(results_dir) / PARAMETERS
    return json.loads(path.read_text()) if path.exists() else {}


def write_predictions_zip(results_dir: str | Path, names: Iterable[str] | None = None) -> Path:
    """The predictions files of the given runs (``predictions_file`` values; default: every file
    under ``<results_dir>/predictions/``) in one archive, ``<results_dir>/predictions.zip`` (the
    reproducibility page offers it for download); returns its path. Atomic, and reproducible:
    the same files give the same bytes (sorted names, fixed timestamps)."""
    results_dir = Path(results_dir)
    paths = (
        sorted((results_dir / "predictions").glob("*.csv"))
        if names is None
        else sorted(results_dir / n for n in names)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            info = zipfile.ZipInfo(f"predictions/{path.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return atomic.write_bytes(results_dir / PREDICTIONS_ZIP, buffer.getvalue())


def predictions(results_dir: str | Path, record: dict) -> pd.DataFrame:
    """The pooled per-sample test predictions of one run (a row of ``metrics``)."""
    path = Path(results_dir) / str(record["predictions_file"])
    return pd.read_csv(path)
