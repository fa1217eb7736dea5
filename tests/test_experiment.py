"""Stage 3 and the run chain: training, resampling inside the training part, the run tables.

The clips here are a synthetic, learnable toy in NumPy (a blob that moves right, down or
diagonally depending on the class), so these tests do not depend on stage 1.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mer_utils  # noqa: F401  (sets TensorFlow's environment before it is imported)
from mer_utils import (
    chance,
    code,
    config,
    experiment,
    folds,
    methods,
    models,
    protocols,
    results,
    schema,
)
from mer_utils.code import closure, code_of
from mer_utils.config import CLASSES

pytestmark = pytest.mark.slow
CNN_VARIANTS = list(config.paper_methods())
"""The paper's variants (the toy clips have no stage-1 key frames for the flow method; the
onset-difference network is the best variant with another input, tested on stand-ins)."""

SOURCE = {"kind": "stand-in", "root": "/nowhere/TOY", "annotation": "toy.xlsx"}
LABEL_PATTERN = [0, 1, 2, 0, 0, 1, 2, 0, 1, 0]  # 50 / 30 / 20 %; any 3+ clips hold all classes


def toy_clips(n_subjects=6, per_subject=10, T=8, S=16, seed=0, extra=2):
    """Clips (n, T, S, S, 1) uint8 of a bright blob moving across a noisy, subject-specific
    background: right (negative), down (positive) or diagonally (surprise). ``windows`` gives
    the denser sampling the window protocol cuts (T + ``extra`` frames of the same motion)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:S, :S]
    X, rows = [], []
    long_T = T + extra
    for s in range(n_subjects):
        background = rng.uniform(60, 120)
        for c in range(per_subject):
            label = LABEL_PATTERN[c % len(LABEL_PATTERN)]
            clip = background + rng.normal(0, 8, (long_T, S, S))
            for t in range(long_T):
                p = 3 + (S - 6) * t / (long_T - 1)
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
    long = np.array(X, dtype=np.uint8)[..., None]
    sampled = np.linspace(0, long_T - 1, T).round().astype(int)
    return SimpleNamespace(
        X=long[:, sampled],
        rows=pd.DataFrame(rows),
        excluded=[],
        source={"root": SOURCE["root"], "annotation": SOURCE["annotation"]},
        windows=lambda: (long, np.ones(len(long), bool)),
    )


def _profile(**kw):
    return {**config.profile("smoke"), "name": "test", **kw}


def _run(clips, method, protocols_, prof, seed=0, results_dir=None):
    return experiment.run_protocols(
        clips, method, protocols_, prof, seed, "stand-in", results_dir=results_dir
    )


def _records(res) -> list[dict]:
    return res.metrics.to_dict("records")


def test_tiny_model_beats_majority_baseline_and_chance_under_paper_protocol():
    clips = toy_clips(n_subjects=8)
    res = _run(
        clips, "MER-3DCNNST", ["paper"], _profile(epochs=25, patience=25, batch_size=16, repeats={})
    )
    (rec,) = _records(res)
    assert rec["n_clips"] == 80 and rec["n_test"] == 8 == rec["n_test_clips"]
    test_counts = res.folds[[f"test_{c}" for c in CLASSES]].iloc[0].tolist()
    assert rec["baseline_accuracy"] == pytest.approx(test_counts[0] / 8)  # negative: majority
    assert rec["accuracy"] >= rec["baseline_accuracy"] + 0.3
    assert rec["uf1"] >= rec["baseline_uf1"] + 0.4
    assert rec["uf1"] > rec["chance_uf1"] and rec["p_uf1"] < 0.05  # it learned: above chance


def test_same_seed_same_records(tmp_path):
    clips = toy_clips(n_subjects=4, per_subject=10, T=4)
    prof = _profile(epochs=4, patience=4, repeats={"paper": 2, "subject": 2})
    runs = [
        _records(
            _run(
                clips,
                "MER-DA3DCNNST",
                ["paper", "subject"],
                prof,
                seed=3,
                results_dir=tmp_path / f"r{i}",
            )
        )
        for i in range(2)
    ]
    skip = {"seconds", "timestamp", "predictions_file"}
    for a, b in zip(*runs):
        assert {k: v for k, v in a.items() if k not in skip} == {
            k: v for k, v in b.items() if k not in skip
        }
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "r0" / a["predictions_file"]),
            pd.read_csv(tmp_path / "r1" / b["predictions_file"]),
        )
    assert runs[0][0]["split_seed"] != runs[0][1]["split_seed"]  # repeats draw new splits


def test_the_page_steps_are_run_protocols_and_compute_a_repeated_run_once(tmp_path):
    """A method page calls runs_to_make, split, fit and score (notebooks/method.md): they give
    the records of run_protocols, and a run equal to an earlier one (paper-leaky of a method
    that resamples nothing) is neither split nor fitted again."""
    clips = toy_clips(n_subjects=4, per_subject=10, T=4)
    prof = _profile(epochs=2, patience=2, repeats={"paper": 2, "paper-leaky": 2})
    wanted = ["paper", "paper-leaky"]
    planned = experiment.runs_to_make(clips, "MER-3DCNNST", wanted, prof, 0, "stand-in")
    assert [(r.protocol, r.repeat) for r in planned] == [
        ("paper", 0),
        ("paper", 1),
        ("paper-leaky", 0),
        ("paper-leaky", 1),
    ]
    assert [r.same_as for r in planned[2:]] == planned[:2]
    with pytest.raises(ValueError, match="score the runs in order"):
        experiment.score(planned[2], None, None)
    made = []
    for run in planned:
        plan = experiment.split(run)
        fitted = experiment.fit(run, plan, tmp_path / "steps")
        assert (plan is None) == (fitted is None) == (run.same_as is not None)
        made.append(experiment.score(run, plan, fitted, tmp_path / "steps"))
    whole = _run(clips, "MER-3DCNNST", wanted, prof, results_dir=tmp_path / "one").metrics
    steps = results.Results.of_runs(made).metrics
    skip = ["seconds", "timestamp", "predictions_file"]
    pd.testing.assert_frame_equal(steps.drop(columns=skip), whole.drop(columns=skip))
    assert (steps["seconds"] > 0).tolist() == [True, True, False, False]  # a copy took no time
    augmenting = experiment.runs_to_make(clips, "MER-DA3DCNNST", wanted, prof, 0, "stand-in")
    assert all(r.same_as is None for r in augmenting)  # its paper-leaky run is another run


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
    notes = (
        code.PACKAGE.parent / "notebooks" / "classifier.md"
    ).read_text()  # the page states every choice
    assert "64 filters" in notes and "8. **Initialisation and seeds**" in notes


# --- the whole grid: the paper's variants x every protocol on a toy, smoke profile -----------


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
    records, calls, runs = {}, {}, {}
    for method in CNN_VARIANTS:
        start = len(seen)
        res = _run(clips, method, list(protocols.PROTOCOLS), "smoke", results_dir=out)
        for rec in _records(res):
            records[method, rec["protocol"], rec["repeat"]] = rec
        runs[method] = res
        calls[method] = seen[start:]
    return SimpleNamespace(clips=clips, dir=out, records=records, calls=calls, runs=runs)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _repeats(protocol):
    return experiment.repeats_of(protocol, config.profile("smoke"))


def _plan(grid, method, protocol, repeat):
    """The samples and folds a run of ``method`` had (made again, as the run made them)."""
    data = folds.check_clips(grid.clips)
    described = methods.describe(method, config.profile("smoke"))
    described.inputs = data.X  # what a cnn method learns from: the clip tensors
    spec = folds.RunSpec(data, described, protocol, repeat, config.profile("smoke"), 0, {})
    return folds.prepare(spec)


def _folds(grid, protocol, repeat):
    return protocols.splits(grid.clips.rows, protocol, seed=0, repeat=repeat)


def test_grid_writes_one_record_per_run_and_reruns_replace_them(grid):
    res = results.load(grid.dir)
    per_method = sum(_repeats(p) for p in protocols.PROTOCOLS)
    assert len(res) == len(CNN_VARIANTS) * per_method == len(grid.records)
    assert list(res.metrics.columns) == list(schema.columns(schema.Record))
    assert not res.metrics.duplicated(list(schema.KEY)).any()
    params = results.parameters(grid.dir)
    for r in res.metrics.to_dict("records"):
        assert r["data_kind"] == "stand-in" and r["data_annotation"] == "toy.xlsx"
        prof = params[r["profile_id"]]  # the profile values the run read, under their id
        assert r["profile"] == "smoke" and prof["epochs"] == 2 == r["epochs"]
        assert prof["augmentation"]["crop_area_fraction"] == 0.1
        assert 0.0 <= float(r["accuracy"]) <= 1.0 and r["version_tensorflow"]
        assert r["device_kind"] in ("cpu", "gpu") and r["device_count"] >= 1
        assert r["precision"] == models.precision_policy(prof)
        assert prof["mixed_precision"] is False  # off by default, recorded
        assert params[r["method_params_id"]]["kind"] == "cnn"
        units = res.confusions[
            (res.confusions["method"] == r["method"])
            & (res.confusions["protocol"] == r["protocol"])
            & (res.confusions["repeat"] == r["repeat"])
        ]
        assert units[list(schema.CONFUSION_COLUMNS)].to_numpy().sum() == r["n_test"]
        assert 1 / (1 + chance.N_PERMUTATIONS) <= r["p_uf1"] <= 1  # a permutation p-value
    # a re-run of one method replaces its rows instead of appending duplicates
    _run(grid.clips, "MER-3DCNNST", ["subject"], "smoke", results_dir=grid.dir)
    again = results.load(grid.dir)
    assert len(again) == len(res) and not again.metrics.duplicated(list(schema.KEY)).any()
    assert len(again.folds) == len(res.folds) and len(again.confusions) == len(res.confusions)


def test_grid_predictions_files(grid):
    n = len(grid.clips.rows)
    for (method, protocol, repeat), rec in grid.records.items():
        pred = pd.read_csv(grid.dir / rec["predictions_file"])
        assert list(pred.columns) == list(schema.PREDICTION_COLUMNS)
        assert rec["predictions_file"].startswith(
            f"predictions/toy__{method}__{protocol}__smoke__seed0__r{repeat}__"
        )
        if protocol in ("loso", "kfold"):  # every clip is tested exactly once per run
            assert len(pred) == n and pred["clip"].is_unique
        if protocol == "loso":
            assert (pred.groupby("fold")["subject"].nunique() == 1).all()
        assert rec["n_test"] == len(pred)


def test_every_method_is_tested_on_the_same_samples_where_the_protocol_is_paired(grid):
    """Paired comparisons need it: split seeds depend on the run seed and repeat only, and the
    windows do not depend on the method."""
    for protocol in [p for p in protocols.PROTOCOLS if protocols.info(p)["paired"]]:
        for repeat in range(_repeats(protocol)):
            tested = {
                v: tuple(
                    pd.read_csv(
                        grid.dir / grid.records[v, protocol, repeat]["predictions_file"]
                    ).sort_values(["clip", "true"])["clip"]
                )
                for v in CNN_VARIANTS
            }
            assert len(set(tested.values())) == 1, (protocol, repeat)


def test_resampling_sees_the_training_part_only_except_under_paper_leaky(grid):
    """Augmentation and SMOTE get exactly the training samples of each split (clips, or windows
    under paper-windows), never validation or test; under paper-leaky they get the whole
    dataset, once per repeat, before the split."""
    X = grid.clips.X
    for method, calls in grid.calls.items():
        switches = methods.switches(method)
        steps = [s for s in ("augment", "smote") if switches[s]]
        if not steps:
            assert calls == [], method
            continue
        expected = []
        for protocol in protocols.PROTOCOLS:
            leaky = protocols.info(protocol)["resample_before_split"]
            for repeat in range(_repeats(protocol)):
                if leaky:
                    expected.append(X)
                else:
                    plan = _plan(grid, method, protocol, repeat)
                    expected += [plan.pool.X[s.train] for s in plan.folds]
        assert len(calls) == len(expected) * len(steps), method
        for k, X_expected in enumerate(expected):
            first = calls[k * len(steps)]  # the first step sees the unresampled input
            np.testing.assert_array_equal(first[1], X_expected, err_msg=f"{method} call {k}")


def test_paper_leaky_puts_copies_of_training_clips_in_test(grid):
    for method in CNN_VARIANTS:
        switches = methods.switches(method)
        for repeat in range(2):
            rec = grid.records[method, "paper-leaky", repeat]
            if switches["augment"]:
                assert rec["n_samples"] == 2 * rec["n_clips"]
                assert rec["leak_test_augmented"] + rec["leak_test_from_clip_in_training"] > 0
            elif switches["smote"]:  # SMOTE samples count by the clips they were made from
                if rec["leak_test_synthetic"]:
                    assert rec["leak_test_from_clip_in_training"] > 0
            else:  # nothing to leak: the paper run itself
                paper = grid.records[method, "paper", repeat]
                assert rec["accuracy"] == paper["accuracy"]
                assert rec["leak_test_from_clip_in_training"] == 0


def test_windows_of_one_clip_land_on_both_sides_of_a_window_split(grid):
    per_clip, stride = folds.window_shape(config.profile("smoke"))
    n_clips = len(grid.clips.rows)
    for method in CNN_VARIANTS:
        for repeat in range(_repeats("paper-windows")):
            rec = grid.records[method, "paper-windows", repeat]
            n_windows = n_clips * per_clip
            assert rec["n_samples"] == n_windows
            assert rec["n_test"] == int(np.ceil(0.1 * n_windows))  # the arithmetic of a 10 % part
            plan = _plan(grid, method, "paper-windows", repeat)
            (split,) = plan.folds
            train_clips = set(plan.pool.origin[split.train])
            shared = [i for i in split.test if plan.pool.origin[i] in train_clips]
            assert shared and rec["leak_test_from_clip_in_training"] == len(shared)
            assert rec["n_test_clips"] == len(set(plan.pool.origin[split.test]))
            T = grid.clips.X.shape[1]
            long, _ = grid.clips.windows()
            first = int(np.flatnonzero(plan.pool.origin == 0)[1])  # clip 0's second window
            np.testing.assert_array_equal(plan.pool.X[first], long[0, stride : stride + T])


def test_counts_per_part(grid):
    y = grid.clips.rows["label"].to_numpy()
    for method in CNN_VARIANTS:
        table = grid.runs[method].folds
        for protocol in protocols.PROTOCOLS:
            info = protocols.info(protocol)
            if info["resample_before_split"] or info.get("samples") == "windows":
                continue
            for repeat in range(_repeats(protocol)):
                rows = table[(table["protocol"] == protocol) & (table["repeat"] == repeat)]
                splits = _folds(grid, protocol, repeat)
                assert len(rows) == len(splits)
                for part in ("train", "val", "test"):
                    labels = np.concatenate([y[getattr(s, part)] for s in splits])
                    for c in CLASSES:
                        assert rows[f"{part}_{c}"].sum() == (labels == c).sum(), (method, protocol)
                resampled = rows[[f"resampled_{c}" for c in CLASSES]].to_numpy()
                train = rows[[f"train_{c}" for c in CLASSES]].to_numpy()
                switches = methods.switches(method)
                if switches["smote"]:  # SMOTE balances every training part
                    assert all(len(set(r)) == 1 for r in resampled)
                    assert rows["smote_k"].dropna().le(5).all()
                elif switches["augment"]:
                    np.testing.assert_array_equal(resampled, 2 * train)
                else:
                    np.testing.assert_array_equal(resampled, train)


def test_class_weights_recorded_per_fold(grid):
    y = grid.clips.rows["label"].to_numpy()
    table = grid.runs["MER-DACWB3DCNNST"].folds
    for protocol in ("paper", "subject", "kfold", "loso"):
        rows = table[(table["protocol"] == protocol) & (table["repeat"] == 0)]
        splits = _folds(grid, protocol, 0)
        assert len(rows) == len(splits)
        for split, (_, row) in zip(splits, rows.iterrows()):
            train = y[split.train]
            for c in CLASSES:  # Eq. 1; a class absent from the training part weighs 0
                n_c = (train == c).sum()
                assert row[f"weight_{c}"] == pytest.approx(len(train) / n_c if n_c else 0.0)
        plain = grid.runs["MER-3DCNNST"].folds
        assert plain[f"weight_{CLASSES[0]}"].isna().all()


def test_bad_arguments():
    clips = toy_clips(n_subjects=3, per_subject=3, T=2, S=4)
    with pytest.raises(ValueError, match="kind"):
        experiment.run_protocols(clips, "MER-3DCNNST", ["paper"], "smoke", 0, "real")
    with pytest.raises(KeyError, match="method"):
        _run(clips, "MER-X", ["paper"], "smoke")
    with pytest.raises(ValueError, match="unknown protocol"):
        _run(clips, "MER-3DCNNST", ["nope"], "smoke")
    bad = SimpleNamespace(**{**vars(clips), "rows": clips.rows.assign(label="others")})
    with pytest.raises(ValueError, match="others"):
        _run(bad, "MER-3DCNNST", ["paper"], "smoke")


def _counting_fits(monkeypatch) -> list:
    fits = []
    cnn = methods.plugin("cnn")
    real = cnn.fit_predict

    def counting(self, *args, **kwargs):
        fits.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cnn, "fit_predict", counting)
    return fits


def test_finished_folds_are_reused_and_a_damaged_one_refitted(tmp_path, monkeypatch):
    clips = toy_clips(n_subjects=5, per_subject=6, T=2, S=8)
    prof = _profile(repeats={})
    (first,) = _records(_run(clips, "MER-3DCNNST", ["kfold"], prof, results_dir=tmp_path))
    fits = _counting_fits(monkeypatch)
    (again,) = _records(_run(clips, "MER-3DCNNST", ["kfold"], prof, results_dir=tmp_path))
    assert fits == [] and again["uf1"] == first["uf1"]
    files = sorted((tmp_path / "folds").rglob("*.json"))
    assert len(files) == first["n_folds"]
    files[0].write_text('{"key": "trunc')  # a half-written or foreign file is never trusted
    (third,) = _records(_run(clips, "MER-3DCNNST", ["kfold"], prof, results_dir=tmp_path))
    assert len(fits) == 1 and third["uf1"] == first["uf1"]
    _run(clips, "MER-3DCNNST", ["kfold"], _profile(repeats={}, epochs=1), results_dir=tmp_path)
    assert len(fits) == 1 + first["n_folds"]  # another training setting is another fold


def test_editing_a_title_a_metric_or_a_docstring_refits_no_fold(tmp_path, monkeypatch):
    """A fold key holds what the fold's result depends on, and nothing else."""
    clips = toy_clips(n_subjects=5, per_subject=6, T=2, S=8)
    prof = _profile(repeats={})
    _run(clips, "MER-3DCNNST", ["kfold"], prof, results_dir=tmp_path)
    fits = _counting_fits(monkeypatch)
    # a method's title and prose, and a protocol's prose
    table = {k: dict(v) for k, v in config.load("methods").items()}
    table["MER-3DCNNST"]["title"] = "another title"
    table["MER-3DCNNST"]["introduction"] = "other words"
    protocols_table = {k: dict(v) for k, v in config.load("protocols").items()}
    protocols_table["kfold"]["title"] = "other words"
    real_load = config.load
    monkeypatch.setattr(
        config,
        "load",
        lambda name: {"methods": table, "protocols": protocols_table}.get(name) or real_load(name),
    )
    # a metric (metrics.py is not a module that fits), and a docstring of one that is
    monkeypatch.setattr(experiment.metrics, "__doc__", "edited")
    _run(clips, "MER-3DCNNST", ["kfold"], prof, results_dir=tmp_path)
    assert fits == []
    code = (folds.Path(folds.__file__)).read_text()
    edited = (
        code.replace('"""One fold of a run', '"""One fold, edited, of a run', 1) + "\n# a comment\n"
    )
    other = tmp_path / "folds_edited.py"
    other.write_text(edited)
    assert code_of(other) == code_of(folds.Path(folds.__file__))
    other.write_text(
        code.replace("fold_seed = protocols.seed_for(", "fold_seed = 1 + protocols.seed_for(")
    )
    assert code_of(other) != code_of(folds.Path(folds.__file__))  # code does count
    fitted = closure(folds.fit_roots(methods.describe("MER-3DCNNST", config.profile("smoke"))))
    assert "metrics.py" not in fitted and "experiment.py" not in fitted


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
