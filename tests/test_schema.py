"""The record schema (mer_utils.schema) and the results folder (mer_utils.results): one
definition, validated on every read, with errors that name the file, the row and the column."""

import dataclasses

import pandas as pd
import pytest

from mer_utils import results, schema


def _record(**kw) -> schema.Record:
    values = {}
    for f in dataclasses.fields(schema.Record):
        kind = str(f.type)
        if "int" in kind:
            values[f.name] = 1
        elif "float" in kind:
            values[f.name] = 0.5
        elif "bool" in kind:
            values[f.name] = False
        else:
            values[f.name] = "x"
    values.update(
        method="M",
        protocol="paper",
        profile="smoke",
        dataset="d",
        data_id="a",
        profile_id="b",
        repeat=0,
        seed=0,
        selection="honest",
    )
    values.update(kw)
    return schema.Record(**values)


def _run(**kw) -> results.Run:
    rec = _record(**kw)
    key = {k: getattr(rec, k) for k in schema.KEY}
    unit = schema.Unit(**key, subject="s1", **{c: 1 for c in schema.CONFUSION_COLUMNS})
    pred = pd.DataFrame(
        [
            {
                "subject": "s1",
                "clip": "c",
                "sample": "original",
                "fold": "paper",
                "true": "negative",
                "pred": "negative",
            }
        ]
    )
    return results.Run(rec, [], [unit], pred, {"profile": {"a": 1}, "method": {"b": 2}})


def test_one_dataclass_defines_each_table_and_reading_gives_it_back(tmp_path):
    results.write_run(tmp_path, _run())
    res = results.load(tmp_path)
    assert list(res.metrics.columns) == list(schema.columns(schema.Record))
    assert list(res.confusions.columns) == list(schema.columns(schema.Unit))
    assert res.metrics["seed"].dtype == "int64" and res.metrics["augment"].dtype == bool
    assert res.metrics["recall_negative"].dtype == "float64"
    assert (tmp_path / "predictions").is_dir() and res.metrics["predictions_file"].iloc[0]
    assert results.parameters(tmp_path)  # the parameters the run read, under their ids


def test_a_run_with_the_same_key_replaces_its_rows(tmp_path):
    results.write_run(tmp_path, _run(accuracy=0.1))
    results.write_run(tmp_path, _run(accuracy=0.9))
    results.write_run(tmp_path, _run(accuracy=0.2, data_id="other data"))  # another key
    res = results.load(tmp_path)
    assert sorted(res.metrics["accuracy"]) == [0.2, 0.9] and len(res.confusions) == 2
    shown = results.load(tmp_path, data_ids={"d": "a"})  # a page sees its own data only
    assert list(shown.metrics["accuracy"]) == [0.9] and len(shown.confusions) == 1


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda text: text.rsplit(",", 3)[0] + "\n", r"metrics.csv: row 2 has \d+ cells"),
        (lambda text: text.replace("accuracy", "acc", 1), r"missing column\(s\) \['accuracy'\]"),
        (
            lambda text: text.replace(",0.5,", ",lots,", 1),
            r"row 2, column '\w+': 'lots' is not a number",
        ),
    ],
    ids=["truncated last row", "renamed column", "not a number"],
)
def test_a_damaged_table_is_an_error_naming_file_row_and_column(tmp_path, damage, message):
    results.write_run(tmp_path, _run())
    path = tmp_path / "metrics.csv"
    path.write_text(damage(path.read_text()))
    with pytest.raises(schema.SchemaError, match=message):
        results.load(tmp_path)


def test_a_required_cell_left_empty_is_named():
    df = pd.DataFrame([schema.row(_record())]).astype(str)
    df.loc[0, "seed"] = ""
    with pytest.raises(schema.SchemaError, match="row 2, column 'seed': empty"):
        schema.validate(df, schema.Record, "metrics.csv")
