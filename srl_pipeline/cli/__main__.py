"""`python -m srl_pipeline.cli ...`: the `srl-pipeline` command without the console script."""

import sys

from . import main

sys.exit(main())
