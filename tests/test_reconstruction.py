"""What the paper's printed accuracies allow (mer_utils.reconstruction): the arithmetic and the
verdict of every hypothesis on the real datasets' structure."""

from fractions import Fraction
from itertools import product

import pytest

from mer_utils import reconstruction


def test_the_smallest_test_size_of_an_accuracy():
    assert reconstruction.smallest_test_size(89.98) == (409, 368)
    assert all(reconstruction.prints(n, 89.98) is None for n in range(1, 409))
    assert reconstruction.prints(409, 89.98) == 368 and reconstruction.prints(818, 89.98) == 736
    assert reconstruction.prints(16, 91.30) is None  # 14/16 = 87.50, 15/16 = 93.75


def test_the_verdict_table_gives_409_for_casme_sq_and_excludes_its_micro_frames():
    long = reconstruction.table()
    assert len(long[["dataset", "variant"]].drop_duplicates()) == 16  # every own row
    row = long[(long["dataset"] == "casme_sq") & (long["variant"] == "MER-3DCNNST")]
    assert (row["smallest n"] == 409).all() and (row["k"] == 368).all()
    verdict = row.set_index("hypothesis")["verdict"]
    # the 38 three-class micro clips hold 510 frames: a 10 % test part has at most 51
    assert reconstruction.structure("casme_sq").clips == 38
    assert sum(reconstruction.structure("casme_sq").lengths) == 510
    assert verdict["frames"] == "excluded" and verdict["windows"] == "excluded"
    assert verdict["clips"] == "excluded"
    assert verdict["resampled"] == "excluded"  # MER-3DCNNST resamples nothing
    assert verdict["frames of Part A long videos (87)"] == "open"  # no upper bound
    sq = long[long["dataset"] == "casme_sq"]
    micro = sq[sq["hypothesis"].isin(["clips", "frames", "windows"])]
    assert (micro["verdict"] == "excluded").all()  # no sampling of the micro clips prints any row


def test_every_row_is_classified_and_the_stated_split_explains_none():
    long = reconstruction.table()
    assert set(long["verdict"]) == {"consistent", "excluded", "open"}
    counts = reconstruction.surviving(long)
    assert counts["clips"] == (0, 16)
    wide = reconstruction.verdicts(long)
    assert wide.shape[0] == 16 and (wide["clips"] == "excluded").all()


def test_augmentation_before_the_split_explains_only_rows_that_augment():
    long = reconstruction.table().set_index(["dataset", "variant", "hypothesis"])["verdict"]
    for ds in ("casme2", "samm", "smic", "casme_sq"):
        assert long[(ds, "MER-3DCNNST", "resampled")] == "excluded"
    detail = reconstruction.table()
    da = detail[(detail["variant"] == "MER-DA3DCNNST") & (detail["hypothesis"] == "resampled")]
    assert da["detail"].str.contains("factor 2 gives").all()


def test_the_papers_internal_inconsistencies_are_computed():
    found = reconstruction.inconsistencies()
    texts = " ".join(f"{r['what']} {r['paper']}" for r in found)
    assert "CAS(ME)² MER-SCB3DCNNST and CASME II MER-DA3DCNNST" in texts
    assert "+1.37 points" in texts


def test_unknown_lengths_need_a_stated_assumption():
    smic = reconstruction.structure("smic")
    assert smic.lengths is None and smic.length_range == (11, 58) and smic.assumption
    with pytest.raises(KeyError):
        reconstruction.structure("nowhere")


def _printed(value: Fraction) -> float:
    """``value`` (a fraction of 1) as the paper prints it: a percentage, 2 decimals, half-up."""
    return float(Fraction(int(value * 10000 + Fraction(1, 2)), 100))


def test_the_mean_of_fold_accuracies_matches_brute_force():
    for sizes in ([3, 4], [2, 2, 5], [1, 3, 3, 4], [5, 6, 6]):
        means = {
            sum(Fraction(c, n) for c, n in zip(cs, sizes)) / len(sizes)
            for cs in product(*[range(n + 1) for n in sizes])
        }
        printable = {_printed(m) for m in means}
        for percent in sorted(printable)[::3] + [12.34, 56.78, 91.30, 99.99]:
            assert reconstruction.mean_prints(sizes, percent) is (percent in printable), (
                sizes,
                percent,
            )
    # a mean of fold accuracies prints what no pooled count of the same clips can
    assert reconstruction.prints(7, 58.33) is None and reconstruction.mean_prints([3, 4], 58.33)


def test_pooled_cross_validation_tests_every_clip_once():
    long = reconstruction.table().set_index(["dataset", "variant", "hypothesis"])
    row = long.loc[("casme2", "MER-3DCNNST", "cv-pooled")]
    assert row["test samples"] == "156" and row["verdict"] == "excluded"  # 91.30 % of 156: no k
    assert all(reconstruction.prints(156, p) is None for p in (91.30, 92.67, 93.25, 93.66))
    counts = reconstruction.surviving()
    assert counts["cv-pooled"] == (0, 16)
    # the mean of the fold accuracies of leave-one-subject-out reaches further than pooling
    assert counts["cv-mean"][0] > 0
    assert long.loc[("casme2", "MER-3DCNNST", "cv-mean")]["verdict"] == "consistent"
    assert "LOSO" in long.loc[("casme2", "MER-3DCNNST", "cv-mean")]["needs"]


def test_hypotheses_without_an_upper_bound_are_open_and_explain_nothing():
    long = reconstruction.table()
    part_a = long[long["hypothesis"] == "frames of Part A long videos (87)"]
    assert (part_a["verdict"] == "open").all() and len(part_a) == 4
    assert reconstruction.surviving(long)["frames of Part A long videos (87)"] == (0, 4)
    assert set(reconstruction.open_hypotheses(long)) == {
        "frames of Part A long videos (87)",
        "frames of Part B clips (300 macro + 57 micro)",
    }
    # a bounded hypothesis that prints the number stays "consistent"
    assert (long[long["hypothesis"] == "repeats"]["verdict"] == "consistent").all()


def test_exclusions_that_hang_on_one_count_are_flagged_fragile():
    long = reconstruction.table().set_index(["dataset", "variant", "hypothesis"])
    # CASME II's 10,771 frames: no k of 1,077 or 1,078 prints 91.30 %, but a count one frame
    # per clip away does
    frames = long.loc[("casme2", "MER-3DCNNST", "frames")]
    assert frames["verdict"] == "excluded" and frames["fragile"].endswith("nearby counts print it")
    hits = int(frames["fragile"].split()[0])
    near = [c for c in range(10771 - 156, 10771 + 157) if c != 10771]
    assert hits == sum(
        any(reconstruction.prints(n, 91.30) for n in reconstruction._test_sizes(c)) for c in near
    )
    # CAS(ME)²'s 510 micro frames exclude its rows robustly: no count nearby prints them
    assert long.loc[("casme_sq", "MER-3DCNNST", "frames")]["fragile"] == ""
    assert long.loc[("casme2", "MER-3DCNNST", "clips")]["fragile"] == ""
    assert len(reconstruction.fragile()) > 0


def test_consistent_hypotheses_say_how_many_repeats_or_copies_they_need():
    assert reconstruction.needs_range("repeats") == (10, 143)
    assert reconstruction.needs_range("resampled") == (13, 83)
    long = reconstruction.table().set_index(["dataset", "variant", "hypothesis"])
    assert long.loc[("casme_sq", "MER-3DCNNST", "repeats")]["needs"] == "r >= 143"
    # 143 x 3 test clips = 429 samples: the first multiple of 3 (or 4) that prints 89.98 %
    assert reconstruction.prints(143 * 3, 89.98) == 386
    assert all(reconstruction.prints(r * n, 89.98) is None for r in range(1, 143) for n in (3, 4))


def test_windows_needed_per_clip():
    w = reconstruction.windows_needed("casme2", 91.30)
    assert w is not None and w > 2
    assert all(
        reconstruction.prints(n, 91.30) is None
        for v in range(1, w)
        for n in reconstruction._test_sizes(v * 156)
    )
