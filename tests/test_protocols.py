"""Evaluation protocols: clip-level (paper, paper-leaky), subject, subject k-fold, LOSO."""

import numpy as np
import pandas as pd
import pytest

from mer_utils import protocols

PATTERN = ["negative"] * 3 + ["positive"] * 2 + ["surprise"]


def _rows(n_subjects=10, per_subject=6):
    return pd.DataFrame(
        [
            {"subject": f"sub{s:02d}", "clip": f"c{s}_{i}", "label": PATTERN[i % len(PATTERN)]}
            for s in range(n_subjects)
            for i in range(per_subject)
        ]
    )


def _check_partition(split, n):
    parts = np.concatenate([split.train, split.val, split.test])
    assert len(parts) == n and len(set(parts.tolist())) == n, "parts overlap or miss clips"
    assert len(split.train) and len(split.val) and len(split.test)


def _subjects(rows, idx):
    return set(rows["subject"].to_numpy()[idx])


def test_paper_split_is_stratified_80_10_10():
    rows = _rows()
    (split,) = protocols.splits(rows, "paper", seed=0)
    _check_partition(split, len(rows))
    assert (len(split.train), len(split.val), len(split.test)) == (48, 6, 6)
    assert rows["label"].iloc[split.test].value_counts().to_dict() == {
        "negative": 3,
        "positive": 2,
        "surprise": 1,
    }
    assert not split.info["fallback"]
    # clip-level: the same person is in training and test (the leak the paper's protocol has)
    assert _subjects(rows, split.train) & _subjects(rows, split.test)


def test_paper_split_deterministic_and_seeded():
    rows = _rows()
    a, b, c = (protocols.splits(rows, "paper", seed=s)[0] for s in (1, 1, 2))
    assert np.array_equal(a.test, b.test) and np.array_equal(a.val, b.val)
    assert not np.array_equal(a.test, c.test)


def test_paper_split_falls_back_when_a_class_is_tiny():
    rows = _rows(3, 6)
    rows.loc[rows["label"] == "surprise", "label"] = "negative"
    rows.loc[0, "label"] = "surprise"  # a single surprise clip cannot be stratified
    (split,) = protocols.splits(rows, "paper", seed=0)
    _check_partition(split, len(rows))
    assert split.info["fallback"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_subject_split_has_no_subject_in_two_parts(seed):
    rows = _rows()
    (split,) = protocols.splits(rows, "subject", seed=seed)
    _check_partition(split, len(rows))
    tr, va, te = (_subjects(rows, i) for i in (split.train, split.val, split.test))
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert len(te) == 1 and len(va) == 1 and len(tr) == 8
    assert set(rows["label"].iloc[split.test]) == set(PATTERN)


def test_subject_split_prefers_a_test_part_with_every_class():
    rows = _rows(10, 6)
    # only sub03 and sub07 have surprise clips: most random draws miss it in test
    rows.loc[~rows["subject"].isin(["sub03", "sub07"]) & (rows["label"] == "surprise"), "label"] = (
        "negative"
    )
    (split,) = protocols.splits(rows, "subject", seed=0)
    assert set(rows["label"].iloc[split.test]) == set(PATTERN)
    assert split.info["test_subjects"][0] in ("sub03", "sub07")


def test_loso_one_fold_per_subject_without_overlap():
    rows = _rows()
    folds = protocols.splits(rows, "loso", seed=0)
    assert len(folds) == 10
    tested = []
    for split in folds:
        _check_partition(split, len(rows))
        tr, va, te = (_subjects(rows, i) for i in (split.train, split.val, split.test))
        assert len(te) == 1 and not (tr & va) and not (tr & te) and not (va & te)
        assert len(va) == 1  # 10 % of 9 training subjects, at least one
        assert split.name == f"loso-{next(iter(te))}"
        tested.append(next(iter(te)))
    assert sorted(tested) == sorted(rows["subject"].unique())


def test_loso_deterministic():
    rows = _rows()
    a = protocols.splits(rows, "loso", seed=4)
    b = protocols.splits(rows, "loso", seed=4)
    assert all(np.array_equal(x.val, y.val) for x, y in zip(a, b))


def test_positional_indices_with_any_index():
    rows = _rows().set_index(np.arange(100, 160))
    (split,) = protocols.splits(rows, "subject", seed=0)
    assert split.test.max() < len(rows)


def test_errors():
    with pytest.raises(ValueError, match="unknown protocol"):
        protocols.splits(_rows(), "nope", seed=0)
    with pytest.raises(ValueError, match="at least 3 subjects"):
        protocols.splits(_rows(2), "subject", seed=0)
    with pytest.raises(ValueError, match="at least 3 subjects"):
        protocols.splits(_rows(2), "loso", seed=0)
    with pytest.raises(ValueError, match="lacks columns"):
        protocols.splits(_rows().drop(columns="subject"), "paper", seed=0)


def test_subject_and_loso_keep_every_class_in_training_when_they_can():
    # Only subjects s6 and s7 have a positive clip: a split that put both in validation and
    # test would train a model that has never seen the class.
    rows = pd.DataFrame(
        [
            {
                "subject": f"s{s}",
                "label": "positive"
                if (s in (6, 7) and k == 0)
                else ("negative" if k % 2 else "surprise"),
            }
            for s in range(8)
            for k in range(4)
        ]
    )
    for seed in range(6):
        split = protocols.splits(rows, "subject", seed)[0]
        assert set(rows["label"][split.train]) == {"negative", "positive", "surprise"}, seed
    for split in protocols.splits(rows, "loso", 0):
        assert set(rows["label"][split.train]) == set(rows["label"].drop(split.test)), split.name


def test_protocols_are_data_in_the_book_order():
    assert protocols.PROTOCOLS == (
        "paper-windows",
        "paper-leaky",
        "paper",
        "subject",
        "kfold",
        "loso",
    )
    assert protocols.info("paper-leaky")["resample_before_split"]
    assert not protocols.info("paper")["resample_before_split"]
    assert protocols.info("paper-windows")["samples"] == "windows"
    assert [protocols.info(p)["subject_independent"] for p in protocols.PROTOCOLS] == [
        False,
        False,
        False,
        True,
        True,
        True,
    ]
    # differences between methods are paired wherever what is split does not depend on the method
    assert not protocols.info("paper-leaky")["paired"]
    assert all(protocols.info(p)["paired"] for p in protocols.PROTOCOLS if p != "paper-leaky")


def test_repeats_draw_new_splits_and_are_reproducible():
    rows = _rows()
    tests = [tuple(protocols.splits(rows, "paper", seed=0, repeat=r)[0].test) for r in range(5)]
    assert len(set(tests)) == 5
    assert tuple(protocols.splits(rows, "paper", seed=0, repeat=3)[0].test) == tests[3]
    # the split depends on (seed, repeat) only: seed 1 repeat 0 is not seed 0 repeat 1
    assert tuple(protocols.splits(rows, "paper", seed=1, repeat=0)[0].test) != tests[1]
    assert protocols.split_seed(0, 1) != protocols.split_seed(1, 0)


def test_paper_leaky_splits_like_paper():
    rows = _rows()
    (a,) = protocols.splits(rows, "paper", seed=2, repeat=1)
    (b,) = protocols.splits(rows, "paper-leaky", seed=2, repeat=1)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.train, b.train)


def test_kfold_tests_every_subject_once_with_whole_subjects():
    rows = _rows(12, 5)
    folds = protocols.splits(rows, "kfold", seed=0)
    assert len(folds) == protocols.info("kfold")["folds"] == 5
    tested = []
    for split in folds:
        _check_partition(split, len(rows))
        tr, va, te = (_subjects(rows, i) for i in (split.train, split.val, split.test))
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert split.info["test_subjects"] == sorted(te)
        tested += sorted(te)
    assert sorted(tested) == sorted(rows["subject"].unique())
    assert protocols.splits(rows, "kfold", seed=0)[2].test.tolist() == folds[2].test.tolist()
    assert [f.test.tolist() for f in protocols.splits(rows, "kfold", seed=0, repeat=1)] != [
        f.test.tolist() for f in folds
    ]


def test_kfold_with_fewer_subjects_than_folds_is_loso_like():
    folds = protocols.splits(_rows(4, 6), "kfold", seed=0)
    assert len(folds) == 4 and all(len(f.info["test_subjects"]) == 1 for f in folds)


def test_one_per_class_picks_one_clip_of_each_class_from_the_part():
    rows = _rows()
    part = np.arange(10, 40)
    picks = protocols.one_per_class(rows, part, seed=1)
    assert set(picks) <= set(part)
    assert rows["label"].to_numpy()[picks].tolist() == ["negative", "positive", "surprise"]
