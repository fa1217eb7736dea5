"""The paper's reported numbers (``data/reference.yaml``), labelled as reported.

Tables 1-4 of Irawan et al. (2024) list, per dataset, earlier methods and the paper's four
variants with accuracy (%, two decimals) and F1. This module reads them (a dataset without a
table simply has no reported rows); :mod:`mer_utils.reconstruction` derives what their printing
implies.
"""

from __future__ import annotations

import pandas as pd

from . import config


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


def megc_published() -> list[dict]:
    """Published leave-one-subject-out UF1 / UAR on the MEGC 2019 composite, as reported by the
    papers on the real datasets (``megc2019_published.yaml``: per method, the whole composite
    and each part, with citation and how the method chose its epoch)."""
    return list(config.load("megc2019_published"))
