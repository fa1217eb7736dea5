"""The field's networks on the onset-apex flow (STSTNet, OFF-ApexNet) and the two scorings of one
training: the epoch chosen on the validation part (honest) and the epoch chosen on the test part
(as some published code does)."""

import numpy as np
import pandas as pd
import pytest

import mer_utils  # noqa: F401  (sets TensorFlow's environment before it is imported)
from mer_utils import config, experiment, flownets, results, schema
from mer_utils.schema import FoldResult
from tests.test_experiment import toy_clips

pytestmark = pytest.mark.slow


def separable(n: int, seed: int):
    """Flow images (n, 28, 28, 3) whose class moves one face region: u > 0 in the upper left
    (negative), v > 0 in the lower right (positive), both in the centre (surprise)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(0, 0.3, (n, flownets.SIZE, flownets.SIZE, 3)).astype(np.float32)
    X[y == 0, 2:10, 2:10, 0] += 1.0
    X[y == 1, 18:26, 18:26, 1] += 1.0
    X[y == 2, 10:18, 10:18, :2] += 1.0
    return X, y


@pytest.mark.parametrize(
    "network, weights",
    [
        # 3 x (3x3x3 kernels + bias) for 3, 5, 8 filters; 5 x 5 x 16 pooled cells -> 3 classes
        ("ststnet", (3 * 27 + 3) + (5 * 27 + 5) + (8 * 27 + 8) + (5 * 5 * 16 * 3 + 3)),
        # per stream 5x5x1x6 + 6 and 5x5x6x16 + 16; 2 x 7x7x16 -> 1024 -> 3
        (
            "offapexnet",
            2 * (25 * 6 + 6 + 25 * 6 * 16 + 16) + (2 * 784 * 1024 + 1024) + (1024 * 3 + 3),
        ),
    ],
)
def test_networks_have_the_papers_shapes_and_weights(network, weights):
    model = flownets.build(network, seed=0)
    assert model.input_shape == (None, 28, 28, 3) and model.output_shape == (None, 3)
    assert model.count_params() == weights
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    if network == "ststnet":
        assert shapes["pool3"] == (10, 10, 3) and shapes["pool8"] == (10, 10, 8)
        assert shapes["streams"] == (10, 10, 16) and shapes["average"] == (5, 5, 16)
    else:
        assert shapes["u_pool16"] == shapes["v_pool16"] == (7, 7, 16)
        assert shapes["merged"] == (1568,)


def test_a_tiny_separable_flow_problem_is_learned():
    X, y = separable(90, 0)
    Xv, yv = separable(30, 1)
    Xt, yt = separable(30, 2)
    model = flownets.build("ststnet", seed=0)
    X, Xv, Xt = flownets.standardise(X, Xv, Xt)
    fit = flownets.train_by_epoch(model, X, y, Xv, yv, Xt, epochs=12, seed=0)
    assert len(fit["val_loss"]) == len(fit["test_by_epoch"]) == 12
    epoch = flownets.honest_epoch(fit["val_loss"])
    assert np.mean(np.asarray(fit["test_by_epoch"][epoch - 1]) == yt) >= 0.9


def _fold(true, by_epoch, val_loss):
    n = len(true)
    test = {"subject": ["s"] * n, "clip": ["c"] * n, "sample": ["clip"] * n, "true": list(true)}
    return FoldResult(
        fold="f0",
        n_train=0,
        n_val=0,
        n_test=n,
        info={},
        counts={},
        test={**test, "pred": list(by_epoch[int(np.argmin(val_loss))])},
        leak=None,
        smote_info=None,
        weights=None,
        seconds=0.0,
        test_by_epoch=[list(p) for p in by_epoch],
        val_loss=list(val_loss),
        best_epoch=int(np.argmin(val_loss)) + 1,
    )


def test_the_epoch_chosen_on_the_test_part_is_never_worse_and_equal_with_one_epoch():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n, epochs = int(rng.integers(1, 12)), int(rng.integers(1, 6))
        true = rng.integers(0, 3, n)
        by_epoch = rng.integers(0, 3, (epochs, n))
        fold = _fold(true, by_epoch, rng.random(epochs))
        honest = flownets.select(fold, "honest")
        test = flownets.select(fold, "best-test-epoch")
        right = [np.sum(np.asarray(f.test["pred"]) == true) for f in (honest, test)]
        assert right[1] >= right[0]
        if epochs == 1:
            assert test.test["pred"] == honest.test["pred"]
    fold = _fold([0, 1, 2], [[0, 0, 0], [0, 1, 2], [0, 1, 1]], [0.1, 0.5, 0.4])
    assert flownets.select(fold, "best-test-epoch").best_epoch == 2
    assert flownets.select(fold, "honest").test["pred"] == [0, 0, 0]
    with pytest.raises(ValueError, match="unknown selection"):
        flownets.select(fold, "best-val")


def test_a_run_writes_an_honest_and_a_best_test_epoch_row_of_one_training(tmp_path, monkeypatch):
    clips = toy_clips(n_subjects=6, per_subject=9)
    parts = ["smic", "casme2", "samm"]  # as the composite names its subjects
    clips.rows["subject"] = [f"{parts[i % 3]}/{s}" for i, s in enumerate(clips.rows["subject"])]
    y = config.class_codes(clips.rows["label"])
    X = np.random.default_rng(4).normal(0, 0.3, (len(y), 28, 28, 3)).astype(np.float32)
    X[y == 0, 2:10, 2:10, 0] += 1.0
    X[y == 1, 18:26, 18:26, 1] += 1.0
    X[y == 2, 10:18, 10:18, :2] += 1.0
    monkeypatch.setattr(flownets, "flow_images", lambda clips: X)  # the flow stage: test_flow
    prof = {**config.profile("smoke"), "name": "test", "epochs": 1}
    out = experiment.run_protocols(
        clips, "STSTNet", ["kfold"], prof, 0, "stand-in", results_dir=tmp_path
    )
    assert set(out.metrics["selection"]) == {"honest"}  # what the method page shows
    every = results.load(tmp_path, selection=None)
    m = every.metrics
    assert sorted(m["selection"]) == sorted(["honest", "best-test-epoch"] * len(out))
    assert not m.duplicated(list(schema.KEY)).any()
    assert len(results.load(tmp_path).metrics) == len(out)  # honest by default
    honest = every.where(selection="honest")
    test = every.where(selection="best-test-epoch")
    assert len(test.folds) == len(honest.folds) > 1
    assert sorted(test.confusions["subject"]) == sorted(honest.confusions["subject"])
    assert (test.metrics["accuracy"].to_numpy() >= honest.metrics["accuracy"].to_numpy()).all()
    epochs = 2 * prof["epochs"]  # methods.yaml: epoch_factor
    assert (test.folds["epochs"] == epochs).all()
    assert test.folds["best_epoch"].between(1, epochs).all()
    assert len(set(m["predictions_file"])) == len(m)
    for r in m.to_dict("records"):
        preds = pd.read_csv(tmp_path / r["predictions_file"])
        assert np.mean(preds["true"] == preds["pred"]) == pytest.approx(r["accuracy"])

    # what the benchmark and findings pages compute from these records
    from mer_utils import report

    twice = report.selection.inflation(
        every, {c: every if c == "composite" else every.part(c) for c in report.benchmark.COLUMNS}
    )
    assert sorted(set(twice["column"])) == sorted(report.benchmark.COLUMNS)
    whole = twice[twice["column"] == "composite"].iloc[0]
    gain = whole["published"]["mean"] - whole["honest"]["mean"]
    assert whole["inflation"]["difference"] == pytest.approx(gain)
    assert (
        whole["inflation"]["low"] <= whole["inflation"]["difference"] <= whole["inflation"]["high"]
    )
    # the cost figure's time: the CPU seconds each fold records, with every thread of its fit
    assert (honest.folds["cpu_seconds"].astype(float) > 0).all()
    cost = report.selection.cost_rows(every)
    assert len(cost) == 1 and cost["method"].iloc[0] == "STSTNet"
    assert cost["seconds"].iloc[0] == pytest.approx(
        honest.folds["cpu_seconds"].astype(float).mean()
    )
    assert "STSTNet" in report.selection.sentence(twice)
    assert "STSTNet" in report.selection.inflation_table(twice, "composite").data
    assert "STSTNet under `kfold`" in report.selection.practice_table(twice).data


def test_an_older_table_without_the_selection_column_reads_as_honest(tmp_path):
    from tests.test_schema import _run

    results.write_run(tmp_path, _run(selection="honest"))
    for name in schema.TABLES:  # as an older version wrote it
        path = tmp_path / name
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        table.drop(columns="selection").to_csv(path, index=False)
    assert list(results.load(tmp_path).metrics["selection"]) == ["honest"]
    results.write_run(tmp_path, _run(selection="honest"))  # replaces the older row
    assert len(results.load(tmp_path, selection=None)) == 1


def test_every_method_the_tables_name_is_cited_and_every_citation_is_in_the_bibliography():
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    bib = set(re.findall(r"@\w+\{([^,]+),", (root / "book/references.bib").read_text()))
    texts = {p.name: p.read_text() for p in (root / "notebooks").glob("*.md")}
    texts["methods.yaml"] = (root / "mer_utils/data/methods.yaml").read_text()
    cited = {
        key.strip()
        for text in texts.values()
        for keys in re.findall(r"\{cite:[pt]\}`([^`]+)`", text)
        for key in keys.split(",")
    }
    assert cited - bib == set()
    named = {
        "paper_tables.md": [
            r["method"].split(" (")[0]
            for t in yaml.safe_load((root / "mer_utils/data/reference.yaml").read_text())[
                "tables"
            ].values()
            for r in t["rows"]
            if not r.get("variant")
        ],
        "benchmark.md": [
            r["method"].split(" (")[0]
            for r in yaml.safe_load((root / "mer_utils/data/megc2019_published.yaml").read_text())
        ],
    }
    for page, methods in named.items():
        for method in methods:
            pattern = re.escape(method) + r"\s+(baseline\s+)?\{cite:p\}"
            assert re.search(pattern, texts[page]), (page, method)


def test_the_3d_cnn_keeps_every_epochs_test_predictions_and_reports_the_restored_epochs(tmp_path):
    import json

    clips = toy_clips(n_subjects=6, per_subject=6)
    prof = {**config.profile("smoke"), "name": "test", "epochs": 3, "patience": 3}
    out = experiment.run_protocols(
        clips, "MER-3DCNNST", ["paper"], prof, 0, "stand-in", results_dir=tmp_path
    )
    assert len(out) == prof["repeats"]["paper"]
    every = results.load(tmp_path, selection=None).metrics
    assert sorted(every["selection"]) == sorted(["honest", "best-test-epoch"] * len(out))
    for path in (tmp_path / "folds").rglob("*.json"):
        fold = json.loads(path.read_text())["result"]
        assert len(fold["test_by_epoch"]) == len(fold["val_loss"]) == fold["epochs"]
        assert fold["test_by_epoch"][fold["best_epoch"] - 1] == fold["test"]["pred"]
