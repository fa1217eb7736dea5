"""The fit on the training part: every fold keeps how well its kept model fits the samples it
was trained on, the record its mean, and the pages say whether a model fitted at all."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mer_utils  # noqa: F401  (sets TensorFlow's environment before it is imported)
from mer_utils import config, experiment, folds, methods, results
from mer_utils.config import CLASSES
from mer_utils.schema import FoldResult


def test_training_confusion_counts_true_rows_and_predicted_columns():
    cells = folds.train_confusion(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 2, 2, 2]))
    assert np.reshape(cells, (3, 3)).tolist() == [[2, 0, 0], [0, 1, 1], [0, 0, 2]]
    with pytest.raises(ValueError, match="3 training predictions for 2"):
        folds.train_confusion(np.array([0, 1]), np.array([0, 1, 2]))


def _fold(**values) -> FoldResult:
    empty = {"subject": [], "clip": [], "sample": [], "true": [], "pred": []}
    base = dict(fold="f0", n_train=0, n_val=0, n_test=0, info={}, counts={}, test=empty)
    return FoldResult(**base, leak=None, smote_info=None, weights=None, seconds=0.0, **values)


def test_record_fit_is_the_mean_of_the_folds_and_absent_where_no_fold_kept_it():
    perfect = folds.train_confusion(np.array([0, 1, 2]), np.array([0, 1, 2]))
    half = folds.train_confusion(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 0]))
    got = experiment.training_fit([_fold(train_confusion=perfect), _fold(train_confusion=half)])
    assert got["train_accuracy"] == pytest.approx(0.75)
    assert got["train_uf1"] == pytest.approx((1.0 + 0.5) / 2)
    none = experiment.training_fit([_fold(epochs=3)])
    assert none == {"train_accuracy": None, "train_uf1": None}


def test_the_flow_baseline_reports_its_fit_on_a_separable_training_part():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    centres = np.eye(3, 5) * 10
    F = (centres[y] + rng.normal(0, 0.5, (len(y), 5))).astype(np.float32)
    method = methods.describe("FLOW-LINEAR", config.profile("smoke"))  # no clips: not built
    pred, fit = method.fit_predict(F[::2], y[::2], None, None, None, F[1::2], 0)
    assert list(pred) == list(y[1::2])
    assert list(fit["train_pred"]) == list(y[::2])  # training part predicted by the same model
    assert fit["epochs"] is None and fit["best_epoch"] is None


def _toy(n_subjects=6, per_subject=9, T=6, S=12, seed=0):
    """A blob moving right, down or diagonally by class over noise (separable by design)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:S, :S]
    X, rows = [], []
    for s in range(n_subjects):
        for c in range(per_subject):
            label = c % 3
            clip = 90 + rng.normal(0, 6, (T, S, S))
            for t in range(T):
                p = 2 + (S - 4) * t / (T - 1)
                cy, cx = {0: (S / 2, p), 1: (p, S / 2), 2: (p, p)}[label]
                clip[t] += 110 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 3)
            X.append(np.clip(clip, 0, 255))
            rows.append({"dataset": "toy", "subject": f"s{s}", "clip": f"c{s}{c}"})
            rows[-1]["label"] = CLASSES[label]
    return SimpleNamespace(
        X=np.array(X, dtype=np.uint8)[..., None],
        rows=pd.DataFrame(rows),
        excluded=[],
        source={"root": "/nowhere/TOY", "annotation": "toy.xlsx"},
        windows=None,
    )


@pytest.mark.slow
def test_the_cnn_fits_a_separable_training_part_and_a_starved_one_does_not(tmp_path):
    clips = _toy()
    base = {**config.profile("smoke"), "name": "test", "repeats": {}, "batch_size": 8}
    run = experiment.run_protocols(
        clips,
        "MER-3DCNNST",
        ["paper"],
        {**base, "epochs": 20, "patience": 20},
        0,
        "stand-in",
        results_dir=tmp_path,
    )
    fold = results.load(tmp_path).folds.iloc[0]
    assert fold["train_accuracy"] >= 0.95 and fold["train_uf1"] >= 0.95
    assert 1 <= fold["best_epoch"] <= fold["epochs"] <= 20
    assert run.metrics.iloc[0]["train_accuracy"] == pytest.approx(fold["train_accuracy"])
    # the same model barely trained (a learning rate of 1e-7, one epoch) has not fitted: the
    # measure can say "no"
    starved = experiment.run_protocols(
        clips,
        "MER-3DCNNST",
        ["paper"],
        {**base, "epochs": 1, "patience": 1, "learning_rate": 1e-7},
        0,
        "stand-in",
    )
    assert starved.folds.iloc[0]["train_uf1"] < 0.6
    from mer_utils import report

    assert report.fit.verdict(report.fit.fit_rows(run, by=("protocol",)).iloc[0]) == "fitted"
    assert "did not fit" in report.fit.fit_sentence(starved)


def _folds(**cols) -> SimpleNamespace:
    n = len(next(iter(cols.values())))
    base = {"method": ["M"] * n, "protocol": ["kfold"] * n, "epochs": [8] * n}
    return SimpleNamespace(folds=pd.DataFrame({**base, **cols}))


def test_the_pages_give_the_mean_over_folds_with_its_range_and_a_computed_verdict():
    from mer_utils import report

    res = _folds(
        train_accuracy=[1.0, 0.9, 0.95],
        train_uf1=[1.0, 0.92, 0.97],
        best_epoch=[8, 2, 5],
    )
    (row,) = report.fit.fit_rows(res).to_dict("records")
    assert row["train accuracy"] == "0.95 (0.90–1.00)"
    assert row["epochs"] == "8 run; kept 2–8 (median 5)"
    assert report.fit.verdict(row) == "fitted"
    assert report.fit.fit_cells(res) == {("M", "kfold"): "0.96 (0.92–1.00)"}
    low = _folds(train_accuracy=[0.4, 0.5], train_uf1=[0.3, 0.4], best_epoch=[1, 1])
    assert report.fit.verdict(report.fit.fit_rows(low).iloc[0]) == "not fitted"
    assert "did not fit its training part under `kfold`" in report.fit.fit_sentence(low)
    assert report.fit.fit_rows(SimpleNamespace(folds=pd.DataFrame())).empty


def test_learning_onset_is_the_smallest_amplitude_above_chance_from_there_on():
    from mer_utils import report

    rows = pd.DataFrame(
        {
            "method": ["A"] * 4 + ["B"] * 4 + ["C"] * 2,
            "amplitude_px": [1, 3, 6, 12] * 2 + [1, 3],
            "p_uf1": [0.01, 0.2, 0.01, 0.001] + [0.5, 0.4, 0.3, 0.2] + [0.001, 0.001],
        }
    )
    # A is above chance at 1 px but not at 3: it starts to learn at 6
    assert report.fit.learning_onset(rows) == {"A": 6.0, "B": None, "C": 1.0}
