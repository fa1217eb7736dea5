"""What the book's pages show: tables, charts and banners, grouped by the family of page.

==============  =================================================================
module          pages
==============  =================================================================
``banners``     the box at the top of every page with numbers: which data, profile
``dataset``     a dataset's overview page (what the loader read)
``stages``      the stage-1, stage-2 and classifier pages
``variant``     one method's page (its runs under every protocol)
``summary``     the evaluation, results and leakage pages (across methods/datasets)
``run``         the reproducibility page (the runner's manifest, the records)
``privacy``     which subjects' faces a page on licensed data may show
==============  =================================================================

Every function returns something a notebook displays as the last expression of a cell: a
``pandas`` DataFrame or Styler, a matplotlib ``Figure`` or an IPython ``Markdown`` object.
Nothing here computes a result: scores come from the records in the results table
(:mod:`mer_utils.results`), their intervals from :mod:`mer_utils.intervals`, the paper's numbers
from :mod:`mer_utils.reference`; clips, augmentations and models from the stage modules.
"""

from . import banners, dataset, privacy, run, stages, summary, variant
from .style import markdown, setup

__all__ = [
    "banners",
    "dataset",
    "markdown",
    "privacy",
    "run",
    "setup",
    "stages",
    "summary",
    "variant",
]
