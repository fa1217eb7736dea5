"""What the paper's printed accuracies allow (mer_utils.reconstruction): the arithmetic and the
verdict of every hypothesis on the real datasets' structure."""

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
    assert verdict["frames of Part A long videos (87)"] == "consistent"
    sq = long[long["dataset"] == "casme_sq"]
    micro = sq[sq["hypothesis"].isin(["clips", "frames", "windows"])]
    assert (micro["verdict"] == "excluded").all()  # no sampling of the micro clips prints any row


def test_every_row_is_classified_and_the_stated_split_explains_none():
    long = reconstruction.table()
    assert set(long["verdict"]) == {"consistent", "excluded"}
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
