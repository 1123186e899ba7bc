"""``python -m passage``: the command line (see :mod:`passage.cli`)."""
import sys

from passage.cli import main

sys.exit(main())
