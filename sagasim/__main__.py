"""``python -m sagasim``: the same as the ``sagasim`` command."""

import sys

from sagasim.cli import main

sys.exit(main())
