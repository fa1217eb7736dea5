"""End-to-end sanity of the stand-ins: what they plant can be learned, on unseen subjects.

The stand-ins move a few pixels, as real micro-expressions do (see ``mer_utils.standins``).
At that amplitude the 3D CNNs stay near chance on unseen subjects in the quick profile (the book
says so, with the calibration on the page ``book/method/standins.md``); the classic
baseline, optical flow between onset and apex, learns. Under a subject-grouped k-fold it must
land clearly above the majority baseline and clearly below 1.0: above, or stage 1 has lost the
signal (masks over the moving regions, misaligned frames, labels shuffled against clips);
below, or the stand-ins are too easy to teach anything about generalising to new people.
"""

from __future__ import annotations

import pytest

from mer_utils import config, experiment, stage1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def casme2(standins, tmp_path_factory):
    return stage1.load_clips(
        "casme2",
        standins["casme2"],
        config.profile("quick"),
        cache_dir=tmp_path_factory.mktemp("cache"),
    )


def test_the_flow_baseline_learns_the_stand_in_on_unseen_subjects(casme2):
    method = "FLOW-LINEAR"
    assert len(casme2.excluded) == 0
    quick = {**config.profile("quick"), "name": "quick"}
    quick["repeats"] = {}  # one seed is enough here
    res = experiment.run_protocols(casme2, method, ["kfold"], quick, 0, "stand-in")
    (record,) = res.metrics.to_dict("records")
    # every clip tested once, never beside a clip of its own subject
    assert record["n_test"] == len(casme2.rows)
    uf1, baseline = record["uf1"], record["baseline_uf1"]
    assert uf1 > baseline + 0.15, (method, uf1, baseline)
    assert uf1 > record["chance_uf1"] and record["p_uf1"] < 0.01  # above chance, not by luck
    assert uf1 < 0.95, (method, uf1)
