"""Calibrate the stand-ins' expression amplitude: how learnable is each amplitude?

For each amplitude (peak displacement in px on a 200 px face) this script generates the CASME II
and SMIC stand-ins at the quick profile's frame scale into a temporary folder, runs stage 1 at
the quick profile's ``size`` and ``n_frames`` (:func:`mer_utils.stage1.load_clips`) and evaluates
the paper's best variant, MER-DACWB3DCNNST (augmentation x ``augment_factor`` and class weights,
:func:`mer_utils.methods.resample_pool`), with the quick profile's model and training settings
under two 5-fold cross-validations:

* ``subject``: subject-grouped folds (``StratifiedGroupKFold``): the test fold's subjects are
  unseen; validation (model selection, early stopping) is the next fold's subjects; the other
  three folds train;
* ``clip``: clip-level stratified folds (``StratifiedKFold``): the same people appear in
  training and test (the paper's kind of split); validation is the next fold's clips.

Predictions are pooled over the folds. One JSON line per (dataset, amplitude, protocol, input,
repeat): accuracy, UF1 (:func:`mer_utils.metrics.uf1`), the majority-class baseline's accuracy
and UF1 (:func:`mer_utils.metrics.majority_baseline`, each fold predicting its training part's
majority class) and seconds. The target: subject-independent UF1 at least about 0.15 above the
baseline's and accuracy below about 0.9, clip-level above subject-independent.

Two references tell a signal that is in the frames from one the model finds, on the same folds:

* ``probe_*``: a linear probe, logistic regression (``C=0.01``, balanced class weights) on one
  image per clip, the mean of the middle sampled frames minus the mean of the first and last
  (apex minus onset/offset) of stage 1's output;
* ``--inputs raw diff`` also trains the same variant and model on *onset-subtracted* clips
  (``128 + 3 x (frame - first frame)``, clipped to 0..255) instead of the raw frames: a
  diagnostic, not the paper's method.

``--methods`` also runs methods of ``variants.yaml`` the way the book's pages do
(:func:`mer_utils.experiment.run_protocols`, protocols ``kfold`` and ``paper``) and records
their UF1 beside the majority baseline's.

The results are also written under ``--out`` (default ``benchmarks/results/``):
``standins_calibration.csv`` (one row per JSON line) and ``standins_methods.csv``, each merged
with the rows already there (a row with the same dataset, amplitude, protocol, input or method,
repeat, profile and generator version is replaced), and their tables as markdown
(``standins_calibration.md``, ``standins_methods.md``) that the book page *The stand-ins*
(``book/method/standins.md``) includes. ``benchmarks/results/README.md`` says when and how the
committed rows were measured.

    .venv/bin/python benchmarks/calibrate_standins.py                      # 1 2 3 4 6 px
    .venv/bin/python benchmarks/calibrate_standins.py --amplitudes 3 --repeats 3
    .venv/bin/python benchmarks/calibrate_standins.py --amplitudes 1 2 3 4 6 12 24 --inputs raw diff
    .venv/bin/python benchmarks/calibrate_standins.py --amplitudes 3 --inputs --methods \
        FLOW-LINEAR DIFF-3DCNN MER-DACWB3DCNNST
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import logging
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mer_utils import config, experiment, methods, metrics, models, stage1, standins  # noqa: E402
from mer_utils.config import CLASSES  # noqa: E402

VARIANT = "MER-DACWB3DCNNST"


def folds(
    rows, protocol: str, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(train, val, test) index arrays: fold f tests, fold f+1 validates, the rest train."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = rows["label"].to_numpy()
    idx = np.arange(len(rows))
    if protocol == "subject":
        split = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(
            idx, y, groups=rows["subject"].astype(str).to_numpy()
        )
    elif protocol == "clip":
        split = StratifiedKFold(k, shuffle=True, random_state=seed).split(idx, y)
    else:
        raise ValueError(protocol)
    parts = [test for _, test in split]
    out = []
    for f in range(k):
        val = parts[(f + 1) % k]
        train = np.concatenate([parts[j] for j in range(k) if j not in (f, (f + 1) % k)])
        out.append((np.sort(train), np.sort(val), np.sort(parts[f])))
    return out


def onset_difference(X: np.ndarray) -> np.ndarray:
    """Clips as their change from the first frame: ``128 + 3 x (frame - frame 0)``, uint8."""
    X = X.astype(np.float32)
    return np.clip(128 + 3 * (X - X[:, :1]), 0, 255).astype(np.uint8)


def probe(clips, protocol: str, k: int, seed: int) -> dict:
    """Linear probe on apex-minus-ends difference images, pooled over the same folds."""
    from sklearn.linear_model import LogisticRegression

    X = clips.X[..., 0].astype(np.float32)
    rows = clips.rows.reset_index(drop=True)
    y = rows["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=int)
    t = X.shape[1]
    mid = X[:, t // 4 : t - t // 4].mean(1)
    features = (mid - 0.5 * (X[:, 0] + X[:, -1])).reshape(len(X), -1)
    true, pred = [], []
    for train, val, test in folds(rows, protocol, k, seed):
        fit = np.concatenate([train, val])
        model = LogisticRegression(C=0.01, max_iter=3000, class_weight="balanced")
        model.fit(features[fit], y[fit])
        true.append(y[test])
        pred.append(model.predict(features[test]))
    true, pred = np.concatenate(true), np.concatenate(pred)
    return {
        "probe_accuracy": round(float(np.mean(true == pred)), 4),
        "probe_uf1": round(metrics.uf1(true, pred), 4),
    }


def evaluate(clips, protocol: str, profile: dict, k: int, seed: int, inputs: str = "raw") -> dict:
    """Cross-validate MER-DACWB3DCNNST; pooled accuracy / UF1 and the majority baseline."""
    import keras

    start = time.perf_counter()
    X, rows = clips.X, clips.rows.reset_index(drop=True)
    if inputs == "diff":
        X = onset_difference(X)
    y = rows["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=int)
    switches = methods.switches(VARIANT)
    keras.backend.clear_session()
    models.set_seeds(seed)
    model = models.model_for_profile(X.shape[1:], profile)
    fresh = models.snapshot(model)
    true, pred, base = [], [], []
    for f, (train, val, test) in enumerate(folds(rows, protocol, k, seed)):
        fold_seed = seed * 1000 + f
        pool = methods.resample_pool(X[train], y[train], switches, profile, fold_seed)
        X_tr, y_tr = pool.X, pool.y
        weights = methods.training_weights(y_tr, switches)
        models.restore(model, fresh)
        models.train(
            model, X_tr, y_tr, X[val], y[val], profile, class_weight=weights, seed=fold_seed
        )
        true.append(y[test])
        pred.append(models.predict(model, X[test], batch_size=int(profile["batch_size"])))
        base.append((y[train], y[test]))
    true, pred = np.concatenate(true), np.concatenate(pred)
    b = metrics.majority_baseline(base)
    return {
        "accuracy": round(float(np.mean(true == pred)), 4),
        "uf1": round(metrics.uf1(true, pred), 4),
        "baseline_accuracy": round(b["accuracy"], 4),
        "baseline_uf1": round(b["uf1"], 4),
        "seconds": round(time.perf_counter() - start, 1),
    }


# ----------------------------------------------------------------------------- results files
RESULTS = Path(__file__).resolve().parent / "results"
CALIBRATION_COLUMNS = [
    "dataset",
    "amplitude_px",
    "protocol",
    "input",
    "repeat",
    "accuracy",
    "uf1",
    "baseline_accuracy",
    "baseline_uf1",
    "probe_accuracy",
    "probe_uf1",
    "n_clips",
    "profile",
    "frame_scale",
    "generator_version",
    "measured",
    "commit",
]
CALIBRATION_KEY = ("dataset", "amplitude_px", "protocol", "input", "repeat", "profile")
METHOD_COLUMNS = [
    "dataset",
    "amplitude_px",
    "method",
    "protocol",
    "repeat",
    "uf1",
    "baseline_uf1",
    "n_test",
    "profile",
    "generator_version",
    "run",
    "measured",
    "commit",
]
METHOD_KEY = ("dataset", "amplitude_px", "method", "protocol", "repeat", "profile", "run")
DISPLAY = {"casme2": "CASME II", "smic": "SMIC-HS", "samm": "SAMM", "casme_sq": "CAS(ME)^2"}


def _commit() -> str:
    """The short hash of the checked-out commit ("" outside a git work tree)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


def _key(row: dict, key: tuple[str, ...]) -> tuple:
    version = str(row.get("generator_version", ""))
    return (version, *(str(row.get(k, "")) for k in key))


def command_line(script: str, argv: list[str] | None) -> str:
    """The command that re-measures a row: ``script`` with the arguments it was given, less the
    machine's own paths (``--keep``, ``--out`` and absolute paths)."""
    args = argv if argv is not None else sys.argv[1:]
    kept = [a for a in args if a not in ("--keep", "--out") and not str(a).startswith("/")]
    return " ".join(["nice -n 5 .venv/bin/python", f"benchmarks/{script}", *map(shlex.quote, kept)])


def merge_rows(path: Path, rows: list[dict], columns: list[str], key: tuple[str, ...]) -> list:
    """The rows of CSV ``path`` with ``rows`` merged in (same key: replaced), written back."""
    old = []
    if path.exists():
        with path.open(newline="") as fh:
            old = list(csv.DictReader(fh))
    merged = {_key(r, key): r for r in old}
    for r in rows:
        merged[_key(r, key)] = {c: r.get(c, "") for c in columns}
    out = list(merged.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns, lineterminator="\n")
        writer.writeheader()
        for r in out:
            writer.writerow({c: ("" if r.get(c) is None else r.get(c, "")) for c in columns})
    return out


def _num(value) -> str:
    return "" if value in ("", None) else f"{float(value):.2f}"


def _pair(a, b) -> str:
    a, b = _num(a), _num(b)
    return "-" if not a and not b else f"{a or '-'} / {b or '-'}"


def _groups(rows: list[dict], fields: tuple[str, ...]) -> dict[tuple, list[dict]]:
    """``rows`` grouped by ``fields``, groups in the order of their first row."""
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r.get(f, "") for f in fields), []).append(r)
    return out


def calibration_markdown(rows: list[dict]) -> str:
    """The calibration rows as one markdown table per (generator version, profile): accuracy /
    UF1 per amplitude, protocol and input, pooled over the folds (repeat 0)."""
    lines = [
        "<!-- GENERATED by benchmarks/calibrate_standins.py from standins_calibration.csv: "
        "edit neither by hand; README.md beside it says how the rows were measured -->",
        "",
    ]
    for (version, profile, measured, commit), group in _groups(
        rows, ("generator_version", "profile", "measured", "commit")
    ).items():
        group = [r for r in group if str(r["repeat"]) == "0"]
        lines += [
            f"### Generator version {version}, {profile} profile "
            f"(measured {measured}, recorded in commit {commit})",
            "",
            "Accuracy / UF1 of MER-DACWB3DCNNST on raw and on onset-subtracted frames, and of "
            "the linear probe, under subject-grouped (*subject*) and clip-level (*clip*) "
            "cross-validation (5 folds unless the script was told otherwise); the majority "
            "baseline on the same folds.",
            "",
            ":::{container} pinned-table",  # the book's scrolling table, first column pinned
            "| px | dataset | CNN, raw, subject | CNN, raw, clip | CNN, onset-subtracted, "
            "subject | CNN, onset-subtracted, clip | probe, subject | probe, clip | "
            "baseline, subject | baseline, clip |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        cells: dict[tuple, dict] = {}
        for r in group:
            cells[(r["dataset"], float(r["amplitude_px"]), r["protocol"], r["input"])] = r
        order = sorted({(d, a) for d, a, _, _ in cells}, key=lambda t: (t[0], t[1]))
        for dataset, amplitude in order:
            at = {(p, i): r for (d, a, p, i), r in cells.items() if (d, a) == (dataset, amplitude)}
            row = [f"{amplitude:g}", DISPLAY.get(dataset, dataset)]
            for inputs in ("raw", "diff"):
                for protocol in ("subject", "clip"):
                    r = at.get((protocol, inputs), {})
                    row.append(_pair(r.get("accuracy"), r.get("uf1")))
            for fields in (("probe_accuracy", "probe_uf1"), ("baseline_accuracy", "baseline_uf1")):
                for protocol in ("subject", "clip"):
                    r = at.get((protocol, "raw")) or at.get((protocol, "diff")) or {}
                    row.append(_pair(r.get(fields[0]), r.get(fields[1])))
            lines.append("| " + " | ".join(row) + " |")
        lines += [":::", ""]
    return "\n".join(lines)


def methods_markdown(rows: list[dict]) -> str:
    """The method rows as one markdown table per (generator version, profile, run): UF1 under
    ``kfold`` / ``paper`` (repeat 0) per dataset, and the majority baseline's."""
    lines = [
        "<!-- GENERATED by benchmarks/calibrate_standins.py from standins_methods.csv: "
        "edit neither by hand; README.md beside it says how the rows were measured -->",
        "",
    ]
    for (version, profile, run, measured, commit), group in _groups(
        rows, ("generator_version", "profile", "run", "measured", "commit")
    ).items():
        group = [r for r in group if str(r["repeat"]) == "0"]
        datasets = sorted({r["dataset"] for r in group})
        amplitudes = sorted({float(r["amplitude_px"]) for r in group})
        lines += [
            f"### Generator version {version}, {profile} profile, {run} "
            f"(measured {measured}, recorded in commit {commit})",
            "",
            "UF1 under the book's protocols *kfold* (subject-grouped 5-fold) / *paper* "
            f"(clip-level test split, repeat 0) at {', '.join(f'{a:g}' for a in amplitudes)} px, "
            "with the majority baseline's on the same splits.",
            "",
            ":::{container} pinned-table",
            "| method | " + " | ".join(DISPLAY.get(d, d) for d in datasets) + " |",
            "|---|" + "---|" * len(datasets),
        ]
        cells = {(r["method"], r["dataset"], r["protocol"]): r for r in group}
        methods = list(dict.fromkeys(r["method"] for r in group))
        for method in methods:
            row = [method]
            for d in datasets:
                k, p = cells.get((method, d, "kfold"), {}), cells.get((method, d, "paper"), {})
                row.append(_pair(k.get("uf1"), p.get("uf1")))
            lines.append("| " + " | ".join(row) + " |")
        row = ["majority baseline"]
        for d in datasets:
            k = next((r for r in group if r["dataset"] == d and r["protocol"] == "kfold"), {})
            p = next((r for r in group if r["dataset"] == d and r["protocol"] == "paper"), {})
            row.append(_pair(k.get("baseline_uf1"), p.get("baseline_uf1")))
        lines += ["| " + " | ".join(row) + " |", ":::"]
        tests = []
        for d in datasets:
            k = next((r for r in group if r["dataset"] == d and r["protocol"] == "kfold"), {})
            p = next((r for r in group if r["dataset"] == d and r["protocol"] == "paper"), {})
            if k.get("n_test") or p.get("n_test"):
                tests.append(
                    f"{DISPLAY.get(d, d)} {k.get('n_test') or '-'} / {p.get('n_test') or '-'}"
                )
        if tests:
            lines += ["", "Test clips (kfold / paper): " + ", ".join(tests) + "."]
        lines.append("")
    return "\n".join(lines)


def write_results(out: Path, calibration: list[dict], methods: list[dict]) -> None:
    """Merge new rows into the CSV files under ``out`` and rewrite their markdown tables."""
    if calibration or (out / "standins_calibration.csv").exists():
        rows = merge_rows(
            out / "standins_calibration.csv", calibration, CALIBRATION_COLUMNS, CALIBRATION_KEY
        )
        (out / "standins_calibration.md").write_text(calibration_markdown(rows))
    if methods or (out / "standins_methods.csv").exists():
        rows = merge_rows(out / "standins_methods.csv", methods, METHOD_COLUMNS, METHOD_KEY)
        (out / "standins_methods.md").write_text(methods_markdown(rows))


def run_methods(clips, methods: list[str], profile: dict, seed: int) -> list[dict]:
    """UF1 of ``methods`` under ``kfold`` and ``paper``, as the book's pages run them."""
    out = []
    for method in methods:
        for record in experiment.run_protocols(
            clips, method, ["kfold", "paper"], profile, seed, "stand-in"
        ):
            out.append(
                {
                    "method": method,
                    "protocol": record["protocol"],
                    "repeat": record["repeat"],
                    "uf1": round(float(record["uf1"]), 4),
                    "baseline_uf1": round(float(record["baseline_uf1"]), 4),
                    "n_test": int(sum(record["counts_test"].values())),
                }
            )
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--amplitudes", type=float, nargs="+", default=[1, 2, 3, 4, 6])
    ap.add_argument("--datasets", nargs="+", default=["casme2", "smic"])
    ap.add_argument("--protocols", nargs="+", default=["subject", "clip"])
    ap.add_argument(
        "--inputs",
        nargs="*",
        default=["raw"],
        choices=["raw", "diff"],
        help="raw: the paper's input; diff: onset-subtracted clips (diagnostic); none: only "
        "the probe (and --methods)",
    )
    ap.add_argument(
        "--methods",
        nargs="*",
        default=[],
        choices=list(config.methods()),
        help="methods of variants.yaml to run as the book's pages do (kfold and paper)",
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1, help="CV repeats (seeds 0, 1, ...)")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--workers", type=int, default=2, help="processes generating the stand-ins")
    ap.add_argument("--keep", type=Path, help="generate into this folder instead of a temp dir")
    ap.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="where the CSV and markdown tables are merged (default: benchmarks/results)",
    )
    ap.add_argument("--no-write", action="store_true", help="print the JSON lines only")
    ap.add_argument(
        "--subjects",
        type=int,
        help="keep the N largest subjects (a quick check of this script, not a calibration)",
    )
    ap.add_argument(
        "--max-clip-frames", type=int, help="cap the clips (a quick check of this script)"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mer_utils").setLevel(logging.ERROR)
    profile = {**config.profile(args.profile), "name": args.profile}
    scale = dict(profile["standin"]).get("frame_scale", 0.5)
    shrink = {"subjects": args.subjects, "max_clip_frames": args.max_clip_frames}
    stamp = {
        "profile": args.profile,
        "generator_version": standins.GENERATOR_VERSION,
        "measured": datetime.date.today().isoformat(),
        "commit": _commit() + ("" if args.subjects is None else " (a reduced check)"),
    }
    calibration: list[dict] = []
    methods: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        base = args.keep or Path(tmp)
        for amplitude in args.amplitudes:
            t0 = time.perf_counter()
            roots = standins.generate_all(
                base / f"amp{amplitude:g}",
                seed=0,
                datasets=args.datasets,
                workers=args.workers,
                frame_scale=scale,
                amplitude=amplitude,
                **shrink,
            )
            generated = time.perf_counter() - t0
            for name in args.datasets:
                t1 = time.perf_counter()
                clips = stage1.load_clips(name, roots[name], profile)
                stage1_s = time.perf_counter() - t1
                for protocol in args.protocols:
                    for r in range(args.repeats):
                        reference = probe(clips, protocol, args.folds, seed=r)
                        for inputs in args.inputs:
                            result = evaluate(clips, protocol, profile, args.folds, r, inputs)
                            line = {
                                "dataset": name,
                                "amplitude": amplitude,
                                "protocol": protocol,
                                "input": inputs,
                                "repeat": r,
                                **result,
                                **reference,
                                "n_clips": len(clips.rows),
                                "n_subjects": int(clips.rows["subject"].nunique()),
                                "excluded": len(clips.excluded),
                                "frame_scale": scale,
                                "profile": args.profile,
                                "generate_seconds": round(generated, 1),
                                "stage1_seconds": round(stage1_s, 1),
                            }
                            print(json.dumps(line), flush=True)
                            calibration.append({**line, **stamp, "amplitude_px": amplitude})
                for row in run_methods(clips, args.methods, profile, seed=0):
                    line = {"dataset": name, "amplitude_px": amplitude, **row, **stamp}
                    print(json.dumps(line), flush=True)
                    methods.append({**line, "run": "single run"})
    if not args.no_write:
        write_results(args.out, calibration, methods)


if __name__ == "__main__":
    main()
