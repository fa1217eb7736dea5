"""The paper's reported numbers (``data/reference.yaml``) and what their printing implies.

Tables 1-4 of Irawan et al. (2024) list, per dataset, earlier methods and the paper's four
variants with accuracy (%, two decimals) and F1. This module reads them (a dataset without a
table simply has no reported rows) and derives two facts a careful reader can check by hand:

* the smallest number of test samples that can print each reported accuracy
  (:func:`smallest_test_sizes`, with :func:`mer_utils.metrics.smallest_test_size`), compared with
  10 % of the dataset's three-class clips;
* how closely each reported F1 follows its accuracy (:func:`f1_against_accuracy`): a weighted or
  micro-averaged F1 stays near the accuracy, a macro F1 on imbalanced data usually drops below it.
"""

from __future__ import annotations

import math

import pandas as pd

from . import config, metrics


def reported(dataset: str) -> pd.DataFrame:
    """The paper's rows for ``dataset`` (empty when it has no table): year, method, accuracy (%),
    f1, variant (None for other methods), protocol label."""
    ref = config.load("reference")
    table = ref["tables"].get(dataset)
    columns = ["year", "method", "accuracy", "f1", "variant", "protocol"]
    if not table:
        return pd.DataFrame(columns=columns)
    rows = pd.DataFrame(table["rows"])
    if "variant" not in rows:
        rows["variant"] = None
    rows["variant"] = rows["variant"].where(rows["variant"].notna(), None)
    rows["protocol"] = [ref["protocols"]["own" if v else "other"] for v in rows["variant"]]
    return rows[columns]


def table_number(dataset: str) -> int | None:
    """The number of the paper's table for ``dataset`` (None when it has none)."""
    table = config.load("reference")["tables"].get(dataset)
    return table["table"] if table else None


def own_rows() -> pd.DataFrame:
    """The paper's own variants over all datasets with a table: dataset, variant, accuracy, f1."""
    frames = [reported(d).assign(dataset=d) for d in config.load("reference")["tables"]]
    rows = pd.concat(frames, ignore_index=True)
    return rows[rows["variant"].notna()][["dataset", "variant", "accuracy", "f1"]].reset_index(
        drop=True
    )


def smallest_test_sizes(test_frac: float = 0.1) -> pd.DataFrame:
    """For each of the paper's own rows: the smallest test set that can print its accuracy,
    against ``test_frac`` of the dataset's three-class clips (official counts)."""
    out = []
    for row in own_rows().to_dict("records"):
        n, k = metrics.smallest_test_size(row["accuracy"])
        clips = sum(config.dataset_info(row["dataset"])["official_counts"].values())
        test = math.ceil(test_frac * clips)
        out.append(
            {
                "dataset": row["dataset"],
                "variant": row["variant"],
                "reported accuracy (%)": row["accuracy"],
                "smallest test set": n,
                "correct": k,
                "three-class clips": clips,
                f"{100 * test_frac:g} % of the clips": test,
                "ratio": round(n / test, 1),
            }
        )
    return pd.DataFrame(out)


def f1_against_accuracy() -> pd.DataFrame:
    """Each own row's reported F1 beside its accuracy / 100, and their difference."""
    rows = own_rows()
    rows["accuracy / 100"] = rows["accuracy"] / 100
    rows["F1 - accuracy"] = (rows["f1"] - rows["accuracy / 100"]).round(4)
    return rows[["dataset", "variant", "accuracy / 100", "f1", "F1 - accuracy"]]


def megc_loso() -> list[dict]:
    """Published LOSO UF1 / UAR on the MEGC 2019 composite (rows of ``loso_megc2019``)."""
    return list(config.load("reference")["loso_megc2019"])
