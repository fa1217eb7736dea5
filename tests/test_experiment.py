"""Stage 3 and the experiment runner: training, resampling inside the training part, records.

The clips here are a synthetic, learnable toy in NumPy (a blob that moves right, down or
diagonally depending on the class), so these tests do not depend on stage 1.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mer_utils  # noqa: F401  (sets TensorFlow's environment before it is imported)
from mer_utils import config, experiment, models, protocols, results
from mer_utils.config import CLASSES

pytestmark = pytest.mark.slow
CNN_VARIANTS = [v for v, m in config.methods().items() if m["method"] == "cnn" and m["paper"]]
"""The paper's variants (the toy clips have no stage-1 key frames for the flow method; the
onset-difference network is the best variant with another input, tested on stand-ins)."""

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
            rows.append(
                {
                    "dataset": "toy",
                    "subject": f"s{s}",
                    "clip": f"s{s}_{c:02d}",
                    "label": CLASSES[label],
                }
            )
    return SimpleNamespace(
        X=np.array(X, dtype=np.uint8)[..., None],
        rows=pd.DataFrame(rows),
        excluded=[],
        source={"root": SOURCE["root"], "annotation": SOURCE["annotation"]},
    )


def _profile(**kw):
    return {**config.profile("smoke"), "name": "test", **kw}


def _run(clips, variant, protocols_, prof, seed=0, results_dir=None):
    return experiment.run_protocols(
        clips, variant, protocols_, prof, seed, "stand-in", results_dir=results_dir
    )


def test_tiny_model_beats_majority_baseline_under_paper_protocol():
    clips = toy_clips(n_subjects=8)
    (rec,) = _run(
        clips, "MER-3DCNNST", ["paper"], _profile(epochs=25, patience=25, batch_size=16, repeats=1)
    )
    assert rec["n_clips"] == 80 and sum(rec["counts_test"].values()) == 8
    test_counts = list(rec["counts_test"].values())
    assert rec["baseline_accuracy"] == pytest.approx(test_counts[0] / 8)  # negative: majority
    assert rec["accuracy"] >= rec["baseline_accuracy"] + 0.3
    assert rec["uf1"] >= rec["baseline_uf1"] + 0.4


def test_same_seed_same_records(tmp_path):
    clips = toy_clips(n_subjects=4, per_subject=10, T=4)
    prof = _profile(epochs=4, patience=4, repeats=2)
    runs = [
        _run(
            clips,
            "MER-DA3DCNNST",
            ["paper", "subject"],
            prof,
            seed=3,
            results_dir=tmp_path / f"r{i}",
        )
        for i in range(2)
    ]
    skip = {"seconds", "timestamp", "predictions_file"}
    for a, b in zip(*runs):
        assert {k: v for k, v in a.items() if k not in skip} == {
            k: v for k, v in b.items() if k not in skip
        }
        pd.testing.assert_frame_equal(
            pd.read_csv(a["predictions_file"]), pd.read_csv(b["predictions_file"])
        )
    assert runs[0][0]["split_seed"] != runs[0][1]["split_seed"]  # repeats draw new splits


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


def test_the_validation_pipeline_gives_the_loss_keras_gives_for_arrays():
    # 40 clips: a full batch and a partial one
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, (40, 4, 8, 8, 1), dtype=np.uint8)
    y = rng.integers(0, len(CLASSES), 40)
    model = models.build_model(X.shape[1:], seed=1)
    from_arrays = model.evaluate(
        X.astype(np.float32), np.eye(len(CLASSES), dtype=np.float32)[y], verbose=0
    )
    from_pipeline = model.evaluate(models.validation_data(X, y, len(CLASSES)), verbose=0)
    np.testing.assert_allclose(from_pipeline, from_arrays, rtol=0, atol=1e-7)


def test_the_seed_alone_fixes_the_initial_state_whatever_else_drew_random_numbers():
    import random

    def fresh(seed, draws):
        models.set_seeds(0)
        for _ in range(draws):  # e.g. a Dask worker's event loop drawing from `random`
            random.random()
        return models.snapshot(models.build_model((4, 8, 8, 1), seed=seed))

    a, b, other = fresh(3, 0), fresh(3, 5), fresh(4, 0)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, other) if x.size > 2)


def test_architecture_is_documented_and_modest():
    model = models.build_model((16, 128, 128, 1))
    conv = model.get_layer("conv1")
    assert conv.filters == 64 and conv.kernel_size == (3, 3, 3)
    assert model.output_shape == (None, 3)
    assert model.count_params() < 5_000_000
    assert "64 filters" in models.ARCHITECTURE_NOTES and "1. " in models.ARCHITECTURE_NOTES


# --- the whole grid: 4 variants x every protocol (repeated twice) on a toy, smoke profile ------


@pytest.fixture(scope="module")
def grid(tmp_path_factory, monkeypatch_module):
    """Run every variant under every protocol; record what the resampling steps saw."""
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
    out = tmp_path_factory.mktemp("results")
    records, calls = {}, {}
    for variant in CNN_VARIANTS:
        start = len(seen)
        for rec in _run(clips, variant, list(protocols.PROTOCOLS), "smoke", results_dir=out):
            records[variant, rec["protocol"], rec["repeat"]] = rec
        calls[variant] = seen[start:]
    return SimpleNamespace(clips=clips, dir=out, records=records, calls=calls)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _folds(grid, protocol, repeat):
    return protocols.splits(grid.clips.rows, protocol, seed=0, repeat=repeat)


def test_grid_writes_one_record_per_run_and_reruns_replace_them(grid):
    table = results.load(grid.dir)
    repeats = config.profile("smoke")["repeats"]
    per_variant = sum(repeats if protocols.info(p)["repeated"] else 1 for p in protocols.PROTOCOLS)
    assert len(table) == len(CNN_VARIANTS) * per_variant == len(grid.records)
    assert list(table.columns) == list(results.COLUMNS)
    assert not table.duplicated(list(results.KEY)).any()
    for r in table.to_dict("records"):
        assert r["data_kind"] == "stand-in" and r["data_annotation"] == "toy.xlsx"
        assert r["profile"] == "smoke" and r["profile_params"]["epochs"] == 2
        assert r["profile_params"]["augmentation"]["crop_area_fraction"] == 0.1
        assert 0.0 <= float(r["accuracy"]) <= 1.0 and r["version_tensorflow"]
        assert r["device"]["kind"] in ("cpu", "gpu") and r["device"]["count"] >= 1
        assert r["device"]["precision"] == models.precision_policy(r["profile_params"])
        assert r["profile_params"]["mixed_precision"] is False  # off by default, recorded
        cm = np.array(r["confusion"])
        assert cm.shape == (3, 3)
        assert (
            np.sum([np.array(c) for c in r["confusion_by_subject"].values()], axis=0) == cm
        ).all()
    # a re-run of one variant replaces its rows instead of appending duplicates
    _run(grid.clips, "MER-3DCNNST", ["subject"], "smoke", results_dir=grid.dir)
    again = results.load(grid.dir)
    assert len(again) == len(table) and not again.duplicated(list(results.KEY)).any()


def test_grid_predictions_files(grid):
    n = len(grid.clips.rows)
    for (variant, protocol, repeat), rec in grid.records.items():
        pred = pd.read_csv(rec["predictions_file"])
        assert list(pred.columns) == list(results.PREDICTION_COLUMNS)
        assert rec["predictions_file"].endswith(
            f"toy__{variant}__{protocol}__smoke__seed0__r{repeat}.csv"
        )
        if protocol in ("loso", "kfold"):  # every clip is tested exactly once
            assert len(pred) == n and pred["clip"].is_unique
        if protocol == "loso":
            assert (pred.groupby("fold")["subject"].nunique() == 1).all()
        assert sum(rec["counts_test"].values()) == len(pred)


def test_every_variant_is_tested_on_the_same_splits(grid):
    """Paired comparisons need it: split seeds depend on the run seed and repeat only."""
    for protocol in ("paper", "subject", "kfold", "loso"):
        for repeat in range(2 if protocols.info(protocol)["repeated"] else 1):
            tested = {
                v: tuple(
                    pd.read_csv(grid.records[v, protocol, repeat]["predictions_file"]).sort_values(
                        "clip"
                    )["clip"]
                )
                for v in CNN_VARIANTS
            }
            assert len(set(tested.values())) == 1, (protocol, repeat)


def test_resampling_sees_the_training_part_only_except_under_paper_leaky(grid):
    """Augmentation and SMOTE get exactly X[train] of each split, never validation or test;
    under paper-leaky they get the whole dataset, once per repeat, before the split."""
    X = grid.clips.X
    for variant, calls in grid.calls.items():
        switches = config.variant(variant)
        steps = [s for s in ("augment", "smote") if switches[s]]
        if not steps:
            assert calls == [], variant
            continue
        expected = []
        for protocol in protocols.PROTOCOLS:
            leaky = protocols.info(protocol)["resample_before_split"]
            for repeat in range(2 if protocols.info(protocol)["repeated"] else 1):
                if leaky:
                    expected.append(X)
                else:
                    expected += [X[s.train] for s in _folds(grid, protocol, repeat)]
        assert len(calls) == len(expected) * len(steps), variant
        for k, X_expected in enumerate(expected):
            first = calls[k * len(steps)]  # the first step sees the unresampled input
            np.testing.assert_array_equal(first[1], X_expected, err_msg=f"{variant} call {k}")


def test_paper_leaky_puts_copies_of_training_clips_in_test(grid):
    for variant in CNN_VARIANTS:
        switches = config.variant(variant)
        for repeat in range(2):
            rec = grid.records[variant, "paper-leaky", repeat]
            leak = rec["leak"]
            if switches["augment"]:
                assert rec["n_samples"] == 2 * rec["n_clips"]
                assert leak["test_augmented_copies"] + leak["test_from_a_clip_in_training"] > 0
            elif not switches["smote"]:  # nothing to leak: the paper run itself
                paper = grid.records[variant, "paper", repeat]
                assert (
                    rec["accuracy"] == paper["accuracy"]
                    and leak["test_from_a_clip_in_training"] == 0
                )
                assert rec["confusion"] == paper["confusion"]


def test_counts_per_part(grid):
    y = grid.clips.rows["label"].to_numpy()
    for (variant, protocol, repeat), rec in grid.records.items():
        if protocols.info(protocol)["resample_before_split"]:
            continue
        folds = _folds(grid, protocol, repeat)
        for part in ("train", "val", "test"):
            labels = np.concatenate([y[getattr(s, part)] for s in folds])
            expected = {c: int((labels == c).sum()) for c in CLASSES}
            assert rec[f"counts_{part}"] == expected, (variant, protocol, part)
        resampled = rec["counts_train_resampled"]
        if variant == "MER-SCB3DCNNST" and len(folds) == 1:  # SMOTE balances the training part
            assert len(set(resampled.values())) == 1
            assert all(k is not None and k <= 5 for k in rec["smote_k"])
        elif config.variant(variant)["augment"]:
            assert resampled == {c: 2 * n for c, n in rec["counts_train"].items()}
        elif not config.variant(variant)["smote"]:
            assert resampled == rec["counts_train"]


def test_class_weights_recorded_per_fold(grid):
    y = grid.clips.rows["label"].to_numpy()
    for protocol in ("paper", "subject", "kfold", "loso"):
        rec = grid.records["MER-DACWB3DCNNST", protocol, 0]
        folds = _folds(grid, protocol, 0)
        assert len(rec["class_weights"]) == len(folds)
        for split, weights in zip(folds, rec["class_weights"]):
            train = y[split.train]
            for c in CLASSES:  # Eq. 1; a class absent from the training part weighs 0
                n_c = (train == c).sum()
                assert weights[c] == pytest.approx(len(train) / n_c if n_c else 0.0)
        assert grid.records["MER-3DCNNST", protocol, 0]["class_weights"] is None


def test_bad_arguments():
    clips = toy_clips(n_subjects=3, per_subject=3, T=2, S=4)
    with pytest.raises(ValueError, match="kind"):
        experiment.run_protocols(clips, "MER-3DCNNST", ["paper"], "smoke", 0, "real")
    with pytest.raises(KeyError, match="variant"):
        _run(clips, "MER-X", ["paper"], "smoke")
    with pytest.raises(ValueError, match="unknown protocol"):
        _run(clips, "MER-3DCNNST", ["nope"], "smoke")
    bad = SimpleNamespace(**{**vars(clips), "rows": clips.rows.assign(label="others")})
    with pytest.raises(ValueError, match="others"):
        _run(bad, "MER-3DCNNST", ["paper"], "smoke")


def test_finished_folds_are_reused_and_a_damaged_one_refitted(tmp_path, monkeypatch):
    clips = toy_clips(n_subjects=5, per_subject=6, T=2, S=8)
    prof = _profile(repeats=1)
    (first,) = _run(clips, "MER-3DCNNST", ["kfold"], prof, results_dir=tmp_path)
    fits = []
    real = experiment.CNN.fit_predict

    def counting(self, *args, **kwargs):
        fits.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(experiment.CNN, "fit_predict", counting)
    (again,) = _run(clips, "MER-3DCNNST", ["kfold"], prof, results_dir=tmp_path)
    assert fits == [] and again["confusion"] == first["confusion"]
    files = sorted((tmp_path / "folds").rglob("*.json"))
    assert len(files) == first["n_folds"]
    files[0].write_text('{"key": "trunc')  # a half-written or foreign file is never trusted
    (third,) = _run(clips, "MER-3DCNNST", ["kfold"], prof, results_dir=tmp_path)
    assert len(fits) == 1 and third["confusion"] == first["confusion"]
    (other,) = _run(
        clips, "MER-3DCNNST", ["kfold"], _profile(repeats=1, epochs=1), results_dir=tmp_path
    )
    assert len(fits) == 1 + first["n_folds"]  # another training setting is another fold


def test_the_onset_difference_input_ignores_what_does_not_move():
    models.set_seeds(0)
    model = models.build_model((4, 8, 8, 1), inputs_as="onset_difference")
    rng = np.random.default_rng(0)
    motion = rng.integers(0, 40, (3, 4, 8, 8, 1)).astype(np.float32)
    motion[:, 0] = 0  # no change at the onset
    face_a, face_b = (rng.integers(0, 200, (1, 1, 8, 8, 1)).astype(np.float32) for _ in range(2))
    out_a = model.predict(face_a + motion, verbose=0)
    out_b = model.predict(face_b + motion, verbose=0)
    np.testing.assert_allclose(out_a, out_b, rtol=1e-5, atol=1e-6)  # another face, same motion
    frames = models.build_model((4, 8, 8, 1))  # the paper's input sees the faces differ
    assert not np.allclose(
        frames.predict(face_a + motion, verbose=0), frames.predict(face_b + motion, verbose=0)
    )
    with pytest.raises(ValueError, match="inputs_as"):
        models.build_model((4, 8, 8, 1), inputs_as="optical_flow")


def test_mixed_precision_only_where_a_gpu_trains():
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    assert models.precision_policy({"mixed_precision": True}) == (
        "mixed_float16" if gpu else "float32"
    )
    assert models.precision_policy({"mixed_precision": False}) == "float32"
    assert models.precision_policy({}) == "float32"
    model = models.model_for_profile((2, 8, 8, 1), {"learning_rate": 1e-3, "mixed_precision": True})
    assert model.get_layer("softmax").dtype == "float32"  # probabilities stay in float32
