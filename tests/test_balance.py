"""Stage 2b: class weights (paper Eq. 1) and SMOTE on the training part."""

import numpy as np
import pytest

from mer_utils import balance


def test_class_weights_match_eq1():
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = balance.class_weights(y)
    assert w == pytest.approx({0: 10 / 6, 1: 10 / 3, 2: 10.0})


def test_class_weights_differ_from_sklearn_balanced_by_n_classes():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 7 + [1] * 2 + [2] * 4)
    sk = compute_class_weight("balanced", classes=np.arange(3), y=y)
    w = balance.class_weights(y)
    assert [w[k] for k in range(3)] == pytest.approx(3 * sk)


def test_class_weights_absent_class_and_bad_label():
    assert balance.class_weights(np.array([0, 0, 1])) == pytest.approx({0: 1.5, 1: 3.0, 2: 0.0})
    with pytest.raises(ValueError, match="labels"):
        balance.class_weights(np.array([0, 3]))


def _clips(counts, seed=0, shape=(4, 6, 6, 1)):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, k) for k, n in enumerate(counts)])
    X = rng.integers(0, 256, (len(y),) + shape).astype(np.uint8)
    return X, y


def test_smote_balances_and_keeps_originals():
    X, y = _clips([12, 5, 3])
    X_res, y_res, info = balance.smote(X, y, seed=0)
    assert np.bincount(y_res).tolist() == [12, 12, 12]
    assert X_res.shape[1:] == X.shape[1:] and X_res.dtype == np.uint8
    assert np.array_equal(X_res[: len(X)], X) and np.array_equal(y_res[: len(y)], y)
    assert info["k_requested"] == 5 and info["k_used"] == 2  # smallest class (3) - 1
    assert info["counts_before"] == [12, 5, 3] and info["counts_after"] == [12, 12, 12]
    # synthetic clips interpolate between two same-class clips: inside the class's value range
    for k in (1, 2):
        members = X[y == k].reshape((y == k).sum(), -1)
        synth = X_res[len(X) :][y_res[len(X) :] == k].reshape(-1, members.shape[1])
        assert (synth >= members.min(0)).all() and (synth <= members.max(0)).all()


def test_smote_is_deterministic():
    X, y = _clips([10, 4, 6])
    a = balance.smote(X, y, seed=3)[0]
    b = balance.smote(X, y, seed=3)[0]
    assert np.array_equal(a, b)


def test_smote_single_sample_class_is_duplicated():
    X, y = _clips([5, 3, 1])
    X_res, y_res, info = balance.smote(X, y, seed=0)
    assert np.bincount(y_res).tolist() == [5, 5, 5]
    assert info["duplicated_classes"] == [2] and info["smote_classes"] == [1]
    assert info["k_used"] == 2
    single = X[y == 2][0]
    assert all(np.array_equal(c, single) for c in X_res[y_res == 2])


def test_smote_only_singletons_skips_smote():
    X, y = _clips([4, 1, 1])
    X_res, y_res, info = balance.smote(X, y, seed=0)
    assert np.bincount(y_res).tolist() == [4, 4, 4]
    assert info["k_used"] is None and info["duplicated_classes"] == [1, 2]


def test_smote_balanced_input_unchanged():
    X, y = _clips([3, 3, 3])
    X_res, y_res, info = balance.smote(X, y, seed=0)
    assert np.array_equal(X_res, X) and info["k_used"] is None
