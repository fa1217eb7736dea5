"""``python -m mer_utils.build``: the study's command line (:mod:`mer_utils.build.study`)."""

import sys

from .study import main

sys.exit(main())
