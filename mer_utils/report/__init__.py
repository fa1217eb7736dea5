"""What the book's pages show: tables, charts, banners and computed sentences, by page family.

==============  =================================================================
module          pages
==============  =================================================================
``banners``     the box at the top of every page with numbers: which data, profile
``dataset``     a dataset's overview page (what the loader read)
``stages``      the stage-1, stage-2 and classifier pages
``networks``    a network's layers as built, example flow fields, the augmentation policy
``method``      one method's page (its runs under every protocol)
``evaluation``  a dataset's evaluation page (every method, chance, differences)
``fit``         whether a model fitted its training part (method and evaluation pages)
``benchmark``   the MEGC 2019 composite's page: its protocol beside the published results
``results``     the results page (Tables 1-4, Figures 6-7, the protocol comparison)
``leakage``     the reconstruction page (the printed numbers' arithmetic, survival)
``selection``   one training scored twice (the epoch chosen on the test part), UF1 for its cost
``scale``       the scale check (some methods at the paper's input and training)
``findings``    the findings page and the introduction's summary
``run``         the reproducibility page (the runner's manifest, the records)
``privacy``     which subjects' faces a page on licensed data may show
``style``       the common look, and how numbers and tables are written
``text``        the words of every sentence above (``mer_utils/data/sentences.yaml``)
==============  =================================================================

Every function returns something a notebook displays as the last expression of a cell: an HTML
table (:func:`style.table`), a matplotlib ``Figure`` or an IPython ``Markdown`` object.
Nothing here computes a result: scores come from the run tables (:mod:`mer_utils.results`),
their intervals and chance levels from :mod:`mer_utils.intervals` and :mod:`mer_utils.chance`,
the paper's numbers from :mod:`mer_utils.reference` and :mod:`mer_utils.reconstruction`. Nor
does it hold the book's sentences: the code decides which sentence applies and fills in its
numbers; the words are the templates of ``sentences.yaml`` (:func:`text.say`).
"""

from . import (
    banners,
    benchmark,
    dataset,
    evaluation,
    findings,
    fit,
    leakage,
    method,
    networks,
    privacy,
    results,
    run,
    scale,
    selection,
    stages,
    text,
)
from .style import markdown, setup

__all__ = [
    "banners",
    "benchmark",
    "dataset",
    "evaluation",
    "findings",
    "fit",
    "leakage",
    "markdown",
    "method",
    "networks",
    "privacy",
    "results",
    "run",
    "scale",
    "selection",
    "setup",
    "stages",
    "text",
]
