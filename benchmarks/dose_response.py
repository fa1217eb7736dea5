"""A positive control: at which expression amplitude does each method start to learn?

For each amplitude (peak displacement in px on a 200 px face) this script generates one
dataset's stand-in (default SMIC-HS: 164 clips of 16 subjects) at the profile's frame scale,
runs stage 1 at the profile's ``size`` and ``n_frames`` and evaluates each method exactly as the
book's method pages do (:func:`mer_utils.experiment.run_protocols`) under the book's ``kfold``
protocol (subject-grouped, class-stratified 5-fold cross-validation: no test subject is seen in
training), once (one seed; the quick book runs ``kfold`` three times). Per (amplitude, method)
it records:

* UF1 and accuracy of the pooled test predictions with their 95 % intervals (bootstrap over
  the test subjects, :func:`mer_utils.intervals.score_interval`) and the number of test clips;
* the permutation chance level of UF1 (95th percentile of the same predictions scored against
  labels shuffled within each test subject) and its p-value (:mod:`mer_utils.chance`);
* the majority baseline of the same folds;
* the fit on the training part: accuracy and UF1 of the kept model on the samples it was
  trained on, mean and lowest over the folds, and the epochs run and kept.

The default methods are the paper's best variant on raw frames (``MER-DACWB3DCNNST``), the same
network on onset-subtracted frames (``DIFF-3DCNN``, beyond the paper) and the optical-flow
baseline (``FLOW-LINEAR``). The book's stand-ins stay at 3 px: this is a control beside them,
measured here because it does not fit in the book's 30-minute budget.

Rows are merged into ``benchmarks/results/dose_response.csv`` (same dataset, amplitude, method,
protocol, seed, profile and generator version: replaced) after every method, and the markdown
table ``dose_response.md`` and the figure ``dose_response.svg``
(:func:`mer_utils.report.fit.dose_response_figure`) are redrawn from it (``--redraw`` redraws
them without measuring); the book page *The stand-ins* (``book/method/standins.md``) includes
both.

    nice -n 5 .venv/bin/python benchmarks/dose_response.py                 # 1 2 3 6 12 24 px
    nice -n 5 .venv/bin/python benchmarks/dose_response.py --amplitudes 3 --methods FLOW-LINEAR
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calibrate_standins import DISPLAY, _commit, command_line, merge_rows  # noqa: E402

from mer_utils import config, experiment, intervals, stage1, standins  # noqa: E402
from mer_utils.report import fit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ["MER-DACWB3DCNNST", "DIFF-3DCNN", "FLOW-LINEAR"]
AMPLITUDES = [1, 2, 3, 6, 12, 24]
COLUMNS = [
    "dataset",
    "amplitude_px",
    "method",
    "protocol",
    "seed",
    "uf1",
    "uf1_low",
    "uf1_high",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "chance_uf1",
    "p_uf1",
    "baseline_uf1",
    "baseline_accuracy",
    "n_test_clips",
    "n_subjects",
    "n_folds",
    "train_accuracy",
    "train_uf1",
    "train_uf1_min",
    "epochs_run",
    "best_epochs",
    "seconds",
    "profile",
    "size",
    "n_frames",
    "max_epochs",
    "frame_scale",
    "generator_version",
    "measured",
    "commit",
    "command",
]
REMEASURE = "nice -n 5 .venv/bin/python benchmarks/dose_response.py"
"""The command that re-measures the whole table (its defaults)."""
KEY = ("dataset", "amplitude_px", "method", "protocol", "seed", "profile")


def measure(clips, method: str, profile: dict, seed: int) -> dict:
    """One method under ``kfold`` on ``clips``, as the book's pages run it: the row's numbers."""
    start = time.perf_counter()
    res = experiment.run_protocols(clips, method, ["kfold"], profile, seed, "stand-in")
    u = intervals.score_interval(res, "uf1")
    a = intervals.score_interval(res, "accuracy")
    record = res.metrics.iloc[0]
    folds = res.folds
    train_uf1 = folds["train_uf1"].astype(float)
    best = folds["best_epoch"].dropna().astype(int).tolist()
    ran = folds["epochs"].dropna().astype(int).tolist()
    return {
        "protocol": "kfold",
        "uf1": round(float(u["mean"]), 4),
        "uf1_low": round(float(u["low"]), 4),
        "uf1_high": round(float(u["high"]), 4),
        "accuracy": round(float(a["mean"]), 4),
        "accuracy_low": round(float(a["low"]), 4),
        "accuracy_high": round(float(a["high"]), 4),
        "chance_uf1": round(float(record["chance_uf1"]), 4),
        "p_uf1": round(float(record["p_uf1"]), 4),
        "baseline_uf1": round(float(record["baseline_uf1"]), 4),
        "baseline_accuracy": round(float(record["baseline_accuracy"]), 4),
        "n_test_clips": int(record["n_test_clips"]),
        "n_subjects": int(record["n_subjects"]),
        "n_folds": int(record["n_folds"]),
        "train_accuracy": round(float(record["train_accuracy"]), 4),
        "train_uf1": round(float(record["train_uf1"]), 4),
        "train_uf1_min": round(float(train_uf1.min()), 4),
        "epochs_run": " ".join(map(str, ran)),
        "best_epochs": " ".join(map(str, best)),
        "seconds": round(time.perf_counter() - start, 1),
    }


def markdown(rows: list[dict]) -> str:
    """The rows as one markdown table per (dataset, generator version, profile, seed)."""
    lines = [
        "<!-- GENERATED by benchmarks/dose_response.py from dose_response.csv: edit neither "
        "by hand -->",
        "",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = tuple(str(r[k]) for k in ("dataset", "generator_version", "profile", "seed"))
        groups.setdefault(key, []).append(r)
    for (dataset, version, profile, seed), group in groups.items():
        first = group[0]
        dates = ", ".join(sorted({str(r["measured"]) for r in group}))
        commits = ", ".join(dict.fromkeys(str(r["commit"]) for r in group))
        lines += [
            f"### {DISPLAY.get(dataset, dataset)} stand-ins, generator version {version}, "
            f"{profile} profile, seed {seed}",
            "",
            f"Stand-in data. Subject-grouped 5-fold cross-validation (`kfold`), one seed; "
            f"frames {first['size']} px x {first['n_frames']}, {first['max_epochs']} epochs "
            "(no early stopping; the kept epoch is the one of lowest validation loss), "
            f"stand-ins at frame scale {first['frame_scale']}. Measured {dates} at "
            f"commit(s) {commits} (each row's commit and command are in dose_response.csv); "
            f"re-measure with `{REMEASURE}` (amplitudes {', '.join(f'{a:g}' for a in AMPLITUDES)}"
            " px; `--amplitudes` for a subset).",
            "",
            ":::{container} pinned-table",
            "| px | method | UF1 [95 % CI] | chance UF1 | p | accuracy [95 % CI] | majority "
            "acc. | test clips | train acc. / UF1 (lowest fold UF1) | epochs kept |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(
            group,
            key=lambda r: (
                float(r["amplitude_px"]),
                METHODS.index(r["method"]) if r["method"] in METHODS else 99,
            ),
        ):
            p = float(r["p_uf1"])
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"{float(r['amplitude_px']):g}",
                        r["method"],
                        f"{float(r['uf1']):.2f} [{float(r['uf1_low']):.2f}, "
                        f"{float(r['uf1_high']):.2f}]",
                        f"{float(r['chance_uf1']):.2f}",
                        "<0.001" if p < 0.001 else f"{p:.3f}",
                        f"{float(r['accuracy']):.2f} [{float(r['accuracy_low']):.2f}, "
                        f"{float(r['accuracy_high']):.2f}]",
                        f"{float(r['baseline_accuracy']):.2f}",
                        str(r["n_test_clips"]),
                        f"{float(r['train_accuracy']):.2f} / {float(r['train_uf1']):.2f} "
                        f"({float(r['train_uf1_min']):.2f})",
                        r["best_epochs"] or "–",
                    ]
                )
                + " |"
            )
        onset = fit.learning_onset(pd.DataFrame(group))
        said = [
            f"{m}: from {a:g} px" if a is not None else f"{m}: at none of these amplitudes"
            for m, a in onset.items()
        ]
        lines += [
            ":::",
            "",
            "Above its permutation chance level (p < 0.05) at that amplitude and every larger "
            "one measured: " + "; ".join(said) + ".",
            "",
            "Fit on the training part (training UF1, mean over folds, by amplitude): "
            + "; ".join(_fits(group))
            + ".",
            "",
            "p: permutation p-value of UF1 against labels shuffled within each test subject, "
            "uncorrected (one test per row); chance UF1: its 95th percentile. Train: the kept "
            "model on the samples it was trained on, mean over the 5 folds. Epochs kept: per "
            "fold, the epoch of lowest validation loss (– for the flow baseline, which has "
            "none).",
            "",
        ]
    return "\n".join(lines)


def _fits(group: list[dict]) -> list[str]:
    """Per method: its mean training UF1 at each amplitude, ``0.41 at 1 px, ...``."""
    out = []
    for method in dict.fromkeys(r["method"] for r in group):
        part = sorted(
            (r for r in group if r["method"] == method), key=lambda r: float(r["amplitude_px"])
        )
        cells = ", ".join(
            f"{float(r['train_uf1']):.2f} at {float(r['amplitude_px']):g} px" for r in part
        )
        out.append(f"{method} {cells}")
    return out


def write(out: Path, rows: list[dict]) -> None:
    """The markdown table and the figure (``dose_response.md`` / ``.svg``) from the CSV rows."""
    import matplotlib

    matplotlib.use("agg")
    (out / "dose_response.md").write_text(markdown(rows))
    df = pd.DataFrame(rows)
    for dataset, part in df.groupby("dataset", sort=False):
        latest = part[part["generator_version"].astype(str) == str(standins.GENERATOR_VERSION)]
        fig = fit.dose_response_figure(
            latest if len(latest) else part, DISPLAY.get(dataset, dataset)
        )
        name = "dose_response.svg" if dataset == "smic" else f"dose_response_{dataset}.svg"
        fig.savefig(out / name, metadata={"Date": None})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--amplitudes", type=float, nargs="+", default=AMPLITUDES)
    ap.add_argument("--dataset", default="smic")
    ap.add_argument("--methods", nargs="+", default=METHODS, choices=list(config.methods()))
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="processes generating the stand-ins")
    ap.add_argument("--keep", type=Path, help="generate into this folder instead of a temp dir")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-write", action="store_true", help="print the JSON lines only")
    ap.add_argument("--subjects", type=int, help="keep the N largest subjects (a check only)")
    ap.add_argument("--max-clip-frames", type=int, help="cap the clips (a check only)")
    ap.add_argument(
        "--redraw", action="store_true", help="only rewrite the table and figure from the CSV"
    )
    args = ap.parse_args(argv)
    if args.redraw:
        write(args.out, merge_rows(args.out / "dose_response.csv", [], COLUMNS, KEY))
        return
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mer_utils").setLevel(logging.ERROR)
    values = config.profile(args.profile, args.dataset)
    # Every epoch is trained (patience = epochs), as when the first rows were measured: the
    # quick book's early stopping (patience 3, its budget's choice) would change the control.
    values = {**values, "patience": int(values["epochs"])}
    profile = {**values, "name": args.profile, "repeats": {"kfold": 1}}
    scale = dict(values["standin"]).get("frame_scale", 0.5)
    command = command_line("dose_response.py", argv)
    stamp = {
        "dataset": args.dataset,
        "seed": args.seed,
        "profile": args.profile,
        "size": int(values["size"]),
        "n_frames": int(values["n_frames"]),
        "max_epochs": int(values["epochs"]),
        "frame_scale": scale,
        "generator_version": standins.GENERATOR_VERSION,
        "measured": datetime.date.today().isoformat(),
        "commit": _commit(),
        "command": command.strip(),
    }
    with tempfile.TemporaryDirectory(prefix="dose-") as tmp:
        base = args.keep or Path(tmp)
        for amplitude in args.amplitudes:
            t0 = time.perf_counter()
            roots = standins.generate_all(
                base / f"amp{amplitude:g}",
                seed=0,
                datasets=[args.dataset],
                workers=args.workers,
                frame_scale=scale,
                amplitude=amplitude,
                subjects=args.subjects,
                max_clip_frames=args.max_clip_frames,
            )
            clips = stage1.load_clips(args.dataset, roots[args.dataset], values)
            prepared = round(time.perf_counter() - t0, 1)
            for method in args.methods:
                row = {**stamp, "amplitude_px": amplitude, "method": method}
                row.update(measure(clips, method, profile, args.seed))
                print(json.dumps({**row, "prepared_seconds": prepared}), flush=True)
                if not args.no_write:
                    write(args.out, merge_rows(args.out / "dose_response.csv", [row], COLUMNS, KEY))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
