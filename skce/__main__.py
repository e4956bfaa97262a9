"""``python -m skce``: the ``skce`` command line (see :mod:`skce.cli`)."""

import sys

from skce.cli import main

if __name__ == "__main__":
    sys.exit(main())
