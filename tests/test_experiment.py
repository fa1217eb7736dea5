"""Stage 3 and the experiment runner: training, resampling inside the training part, records.

The clips here are a synthetic, learnable toy in NumPy (a blob that moves right, down or
diagonally depending on the class), so these tests do not depend on stage 1.
"""
import csv
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mer_utils  # noqa: F401  (sets TensorFlow's environment before it is imported)
from mer_utils import config, experiment, models, protocols
from mer_utils.config import CLASSES

pytestmark = pytest.mark.slow

SOURCE = {"kind": "stand-in", "root": "/nowhere/TOY", "annotation": "toy.xlsx"}
LABEL_PATTERN = [0, 1, 2, 0, 0, 1, 2, 0, 1, 0]  # 50 / 30 / 20 %; any 3+ clips hold all classes


def toy_clips(n_subjects=6, per_subject=10, T=8, S=16, seed=0):
    """Clips (n, T, S, S, 1) uint8 of a bright blob moving across a noisy, subject-specific
    background: right (negative), down (positive) or diagonally (surprise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:S, :S]
    X, rows = [], []
    for s in range(n_subjects):
        background = rng.uniform(60, 120)
        for c in range(per_subject):
            label = LABEL_PATTERN[c % len(LABEL_PATTERN)]
            clip = background + rng.normal(0, 8, (T, S, S))
            for t in range(T):
                p = 3 + (S - 6) * t / (T - 1)
                cy, cx = {0: (S / 2, p), 1: (p, S / 2), 2: (p, p)}[label]
                clip[t] += 100 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 4)
            X.append(np.clip(clip, 0, 255))
            rows.append({"dataset": "toy", "subject": f"s{s}", "clip": f"s{s}_{c:02d}",
                         "label": CLASSES[label]})
    return SimpleNamespace(X=np.array(X, dtype=np.uint8)[..., None], rows=pd.DataFrame(rows))


def _profile(**kw):
    return {**config.profile("smoke"), "name": "test", **kw}


def test_tiny_model_beats_majority_baseline_under_paper_protocol(tmp_path):
    clips = toy_clips(n_subjects=8)
    rec = experiment.run(clips, "MER-3DCNNST", "paper",
                         _profile(epochs=25, patience=25, batch_size=16),
                         seed=0, data_source=SOURCE)
    assert rec["n_clips"] == 80 and sum(rec["counts_test"].values()) == 8
    test_counts = list(rec["counts_test"].values())
    assert rec["baseline_accuracy"] == pytest.approx(test_counts[0] / 8)  # negative: majority
    assert rec["accuracy"] >= rec["baseline_accuracy"] + 0.3
    assert rec["uf1"] >= rec["baseline_uf1"] + 0.4


def test_same_seed_same_metrics(tmp_path):
    clips = toy_clips(n_subjects=4, per_subject=10, T=4)
    prof = _profile(epochs=4, patience=4)
    runs = [experiment.run(clips, "MER-DA3DCNNST", "paper", prof, seed=3, data_source=SOURCE,
                           results_csv=tmp_path / f"r{i}" / "metrics.csv") for i in range(2)]
    skip = {"seconds", "timestamp", "predictions_file"}
    assert {k: v for k, v in runs[0].items() if k not in skip} == \
        {k: v for k, v in runs[1].items() if k not in skip}
    preds = [pd.read_csv(r["predictions_file"]) for r in runs]
    pd.testing.assert_frame_equal(*preds)


def test_restored_model_trains_like_a_new_one():
    clips = toy_clips(n_subjects=3, per_subject=6, T=4, S=8)
    X, y = clips.X, clips.rows["label"].map(CLASSES.index).to_numpy()
    prof = _profile(epochs=2)
    models.set_seeds(1)
    new = models.build_model(X.shape[1:])
    models.train(new, X, y, X[:4], y[:4], prof, seed=5)
    models.set_seeds(1)
    reused = models.build_model(X.shape[1:])
    state = models.snapshot(reused)
    models.train(reused, X[::-1], y[::-1], X[:4], y[:4], prof, seed=9)  # some other fold
    models.restore(reused, state)
    models.train(reused, X, y, X[:4], y[:4], prof, seed=5)
    for a, b in zip(new.get_weights(), reused.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_architecture_is_documented_and_modest():
    model = models.build_model((16, 128, 128, 1))
    conv = model.get_layer("conv1")
    assert conv.filters == 64 and conv.kernel_size == (3, 3, 3)
    assert model.output_shape == (None, 3)
    assert model.count_params() < 5_000_000
    assert "64 filters" in models.ARCHITECTURE_NOTES and "1. " in models.ARCHITECTURE_NOTES


# --- the whole grid: 4 variants x 3 protocols on a small toy, smoke profile -------------------

@pytest.fixture(scope="module")
def grid(tmp_path_factory, monkeypatch_module):
    """Run every variant under every protocol once; record what the resampling steps saw."""
    from mer_utils import augment, balance

    seen = []
    real_augment, real_smote = augment.augment_clips, balance.smote

    def spy_augment(X, y, factor, seed, **kw):
        seen.append(("augment", X.copy(), y.copy()))
        return real_augment(X, y, factor, seed, **kw)

    def spy_smote(X, y, seed, **kw):
        seen.append(("smote", X.copy(), y.copy()))
        return real_smote(X, y, seed, **kw)

    monkeypatch_module.setattr(augment, "augment_clips", spy_augment)
    monkeypatch_module.setattr(balance, "smote", spy_smote)
    clips = toy_clips(n_subjects=6, per_subject=6, T=4, S=12, seed=1)
    csv_path = tmp_path_factory.mktemp("results") / "metrics.csv"
    records, calls = {}, {}
    for variant in config.load("variants"):
        for protocol in protocols.PROTOCOLS:
            start = len(seen)
            records[variant, protocol] = experiment.run(
                clips, variant, protocol, "smoke", seed=0, data_source=SOURCE,
                results_csv=csv_path)
            calls[variant, protocol] = seen[start:]
    return SimpleNamespace(clips=clips, csv=csv_path, records=records, calls=calls)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_grid_writes_one_record_per_run(grid):
    with open(grid.csv, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 12
    assert list(table[0]) == list(experiment.RECORD_COLUMNS)
    assert {(r["variant"], r["protocol"]) for r in table} == set(grid.records)
    for r in table:
        assert r["data_kind"] == "stand-in" and r["data_annotation"] == "toy.xlsx"
        assert r["profile"] == "smoke" and json.loads(r["profile_params"])["epochs"] == 2
        assert 0.0 <= float(r["accuracy"]) <= 1.0 and r["version_tensorflow"]
        cm = np.array(json.loads(r["confusion"]))
        assert cm.shape == (3, 3)


def test_grid_predictions_files(grid):
    n = len(grid.clips.rows)
    for (variant, protocol), rec in grid.records.items():
        pred = pd.read_csv(rec["predictions_file"])
        assert list(pred.columns) == list(experiment.PREDICTION_COLUMNS)
        assert rec["predictions_file"].endswith(
            f"toy__{variant}__{protocol}__{rec['profile']}__seed{rec['seed']}.csv")
        if protocol == "loso":  # every clip is tested exactly once
            assert len(pred) == n and pred["clip"].is_unique
            assert (pred.groupby("fold")["subject"].nunique() == 1).all()
        assert sum(rec["counts_test"].values()) == len(pred)


def test_resampling_sees_the_training_part_only(grid):
    """Augmentation and SMOTE get exactly X[train] of each split: never validation or test."""
    X = grid.clips.X
    for (variant, protocol), calls in grid.calls.items():
        switches = config.variant(variant)
        folds = protocols.splits(grid.clips.rows, protocol, seed=0)
        steps = [s for s in ("augment", "smote") if switches[s]]
        assert [c[0] for c in calls] == [s for _ in folds for s in steps]
        for f, split in enumerate(folds):
            for name, X_in, _ in calls[f * len(steps):(f + 1) * len(steps)]:
                np.testing.assert_array_equal(X_in, X[split.train], err_msg=f"{name} {variant}")


def test_counts_per_part(grid):
    y = grid.clips.rows["label"].to_numpy()
    for (variant, protocol), rec in grid.records.items():
        folds = protocols.splits(grid.clips.rows, protocol, seed=0)
        for part in ("train", "val", "test"):
            labels = np.concatenate([y[getattr(s, part)] for s in folds])
            expected = {c: int((labels == c).sum()) for c in CLASSES}
            assert rec[f"counts_{part}"] == expected, (variant, protocol, part)
        resampled = rec["counts_train_resampled"]
        if variant == "MER-SCB3DCNNST":  # SMOTE balances each fold's training part
            assert len(set(resampled.values())) == 1
            assert all(k is not None and k <= 5 for k in rec["smote_k"])
        elif config.variant(variant)["augment"]:
            assert resampled == {c: 2 * n for c, n in rec["counts_train"].items()}
        else:
            assert resampled == rec["counts_train"]


def test_class_weights_recorded_per_fold(grid):
    y = grid.clips.rows["label"].to_numpy()
    for protocol in protocols.PROTOCOLS:
        rec = grid.records["MER-DACWB3DCNNST", protocol]
        folds = protocols.splits(grid.clips.rows, protocol, seed=0)
        assert len(rec["class_weights"]) == len(folds)
        for split, weights in zip(folds, rec["class_weights"]):
            train = y[split.train]
            for c in CLASSES:  # Eq. 1; a class absent from the training part weighs 0
                n_c = (train == c).sum()
                assert weights[c] == pytest.approx(len(train) / n_c if n_c else 0.0)
        assert grid.records["MER-3DCNNST", protocol]["class_weights"] is None


def test_append_record_keeps_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("dataset,old_column\ncasme2,x\n")
    experiment.append_record(path, {"dataset": "samm", "confusion": [[1]], "uf1": 0.5})
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        table = list(reader)
    assert reader.fieldnames[:2] == ["dataset", "old_column"]
    assert set(experiment.RECORD_COLUMNS) <= set(reader.fieldnames)
    assert table[0]["old_column"] == "x" and table[1]["confusion"] == "[[1]]"
    assert table[1]["uf1"] == "0.5" and table[1]["old_column"] == ""


def test_bad_arguments():
    clips = toy_clips(n_subjects=3, per_subject=3, T=2, S=4)
    with pytest.raises(ValueError, match="kind"):
        experiment.run(clips, "MER-3DCNNST", "paper", "smoke", 0, {**SOURCE, "kind": "real"})
    with pytest.raises(KeyError, match="variant"):
        experiment.run(clips, "MER-X", "paper", "smoke", 0, SOURCE)
    bad = SimpleNamespace(X=clips.X, rows=clips.rows.assign(label="others"))
    with pytest.raises(ValueError, match="others"):
        experiment.run(bad, "MER-3DCNNST", "paper", "smoke", 0, SOURCE)
