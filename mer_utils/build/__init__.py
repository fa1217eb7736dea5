"""What runs the book: the study's runner, apart from what the pages call.

The pages call the study's modules (``mer_utils.datasets``, ``stage1``, ``methods``,
``experiment``, ``report``, ...). This subpackage executes those pages and nothing in the study
imports it: it plans the grid of pages, renders their templates, runs them with papermill (on
this machine, or their folds on a Dask cluster), decides what needs running again, and guards
what is published.

==================  ==========================================================
module              what it serves
==================  ==========================================================
``study``           the command line (``python -m mer_utils.build``)
``options``         checking the command line's arguments
``grid``            the pages of a run, and the table of contents
``templates``       notebook templates (MyST) rendered for a page
``fingerprints``    what a page's result depends on
``runner``          executing pages with papermill; resume; interrupts
``cluster``         folds on a Dask cluster (the same plan and fold executor)
``pages``           placeholders, the run manifest, generated text
``processes``       signals, the run lock
``publish``         the publishing guard
``launch``          the executed pages for the launch buttons (Binder, Colab)
==================  ==========================================================
"""
