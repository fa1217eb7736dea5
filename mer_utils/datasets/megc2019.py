"""The MEGC 2019 composite: SMIC-HS, CASME II and SAMM as one three-class dataset.

The Second Facial Micro-Expression Grand Challenge (MEGC 2019; See et al. 2019) joined the three
datasets into one benchmark of 442 clips from 68 subjects (250 negative, 109 positive, 83
surprise), evaluated leave-one-subject-out with UF1 and UAR pooled over all folds. Since then
nearly every micro-expression paper reports it.

This plug-in has no reader of its own: each part is read by its own plug-in
(:mod:`.casme2`, :mod:`.samm`, :mod:`.smic`) from ``root/<part folder>`` (``CASME2/``,
``SAMM/``, ``SMIC/``), with the composite's label rule for that part (``labels.yaml``,
``megc2019``; :func:`._common.label_rule`). Then the clips the organisers' list leaves out
(``datasets.yaml``, ``megc2019.excluded``) are dropped, counted and listed in the load report,
and every row is renamed into the composite: ``subject`` ``<part>/<subject>`` (unique across the
parts, e.g. ``casme2/sub01``), ``source`` the part (``casme2``, ``samm``, ``smic``).

``annotation`` is a mapping part -> annotation file, for a part whose folder holds several.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

from .. import config
from ._common import DatasetError, Report, dataset_info, label_rule


def read(name: str, root: Path, info: dict, annotation=None) -> tuple[list[dict], Report]:
    from . import plugin  # the parts' plug-ins

    rules = config.load("labels")[name]
    excluded = {(e["part"], e["subject"], e["clip"]): e for e in info["excluded"]["clips"]}
    reason = info["excluded"]["reason"]
    annotations = dict(annotation or {})
    report = Report(name)
    records: list[dict] = []
    files = []
    for part in info["parts"]:
        facts = dataset_info(part)
        part_root = root / facts["folder"]
        if not part_root.is_dir():
            raise DatasetError(
                f"{part_root}: the {info['display']} needs its {facts['display']} part, the "
                f"folder {facts['folder']!r} under {root}"
            )
        with label_rule(part, rules[part]):
            got, rep = plugin(part).read(part, part_root, facts, annotations.get(part))
        files.append(f"{facts['folder']}/{Path(rep.annotation).name}" if rep.annotation else "")
        report.rows_read += rep.rows_read
        report.ignored += rep.ignored
        report.skipped += rep.skipped
        report.adjusted += rep.adjusted
        for why, n in rep.dropped.items():
            report.dropped[f"{facts['display']}: {why}"] += n
        for rec in got:
            listed = excluded.get((part, rec["subject"], rec["clip"]))
            if listed is not None:
                report.exclude(
                    rec["_where"].split(":")[0],
                    f"{rec['subject']} {rec['clip']} ({rec['emotion']})",
                    reason,
                    listed.get("note", ""),
                )
                continue
            records.append(
                rec
                | {
                    "dataset": name,
                    "subject": f"{part}/{rec['subject']}",
                    "source": part,
                    "_where": f"{part}: {rec['_where']}",
                }
            )
    report.annotation = "; ".join(f for f in files if f) or "(folder names)"
    return records, report


def composite_structure() -> dict[str, dict[str, tuple[int, int, int]]]:
    """``mer_utils/data/megc2019_subjects.csv``: the composite's clips per class (CLASSES
    order) of every subject it holds, per part (subjects named as in the part's folders)."""
    text = resources.files("mer_utils").joinpath("data", "megc2019_subjects.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    out: dict[str, dict[str, tuple[int, int, int]]] = {}
    for row in rows:
        counts = tuple(int(row[c]) for c in config.CLASSES)
        out.setdefault(row["source"], {})[row["subject"]] = counts
    return out


def expected_counts(subjects: dict[str, list[str]] | None = None) -> dict[str, int]:
    """Class counts of the composite (the organisers' list), or of the subjects ``subjects``
    (part -> subject ids) hold in it (a stand-in of some subjects only)."""
    structure = composite_structure()
    totals = [0, 0, 0]
    for part, per_subject in structure.items():
        for subject, counts in per_subject.items():
            if subjects is None or subject in subjects.get(part, ()):
                totals = [a + b for a, b in zip(totals, counts)]
    return dict(zip(config.CLASSES, totals))
