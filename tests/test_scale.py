"""The scale check's paired comparison (mer_utils.report.scale): the paper's scale against the
book's profile on the splits both ran, never on splits only one of them ran."""

import numpy as np
import pandas as pd
import pytest

from mer_utils import metrics, results, schema
from mer_utils.report import scale


def _runs(profile, seeds, cms):
    """One kfold run per split seed at ``profile``, with the per-subject confusions ``cms``."""
    rows, folds, units = [], [], []
    for r, seed in enumerate(seeds):
        key = {
            "dataset": "casme_sq",
            "method": "MER-DACWB3DCNNST",
            "protocol": "kfold",
            "profile": profile,
            "seed": 0,
            "repeat": r,
            "data_id": "a",
            "profile_id": profile,
        }
        total = np.sum([np.asarray(c) for c in cms.values()], axis=0)
        scores = metrics.from_confusion(total)
        rows.append(
            {
                **key,
                **{k: scores[k] for k in metrics.RECORD_SCORES},
                "baseline_accuracy": 0.5,
                "n_test": int(total.sum()),
                "n_test_clips": int(total.sum()),
                "n_folds": len(cms),
                "constant_prediction": False,
                "split_seed": seed,
                "inputs": "frames",
            }
        )
        folds.append({**key, "n_train": 30, "n_test": int(total.sum())})
        for subject, cm in cms.items():
            units.append(
                {**key, "subject": subject, **dict(zip(schema.CONFUSION_COLUMNS, np.ravel(cm)))}
            )
    return results.Results(pd.DataFrame(rows), pd.DataFrame(folds), pd.DataFrame(units))


def test_the_scale_check_is_paired_on_shared_split_seeds_only():
    check = scale.settings("quick")
    assert check, "the quick profile has a scale check"
    good = {f"s{i}": [[3, 0, 0], [0, 2, 0], [0, 0, 2]] for i in range(8)}
    poor = {f"s{i}": [[1, 1, 1], [1, 1, 0], [1, 0, 1]] for i in range(8)}
    both = results.Results.concat(
        [_runs("quick", [11, 12], poor), _runs(check["profile"], [11, 99], good)]
    )
    got = scale.paired(both, "quick")
    assert len(got) == 1
    row = got.iloc[0]
    assert row["splits"] == 1  # seed 12 (quick only) and 99 (scale only) are not paired
    one_good = metrics.from_confusion(np.sum(list(map(np.asarray, good.values())), axis=0))
    one_poor = metrics.from_confusion(np.sum(list(map(np.asarray, poor.values())), axis=0))
    assert row["difference"] == pytest.approx(one_good["uf1"] - one_poor["uf1"])
    assert row["low"] > 0 and row["p_holm"] < 0.05
    # nothing shared, nothing compared
    apart = results.Results.concat(
        [_runs("quick", [12], poor), _runs(check["profile"], [99], good)]
    )
    assert scale.paired(apart, "quick").empty
