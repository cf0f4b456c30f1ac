"""C{python -m emulator} is the same as the C{smets} console script."""

import sys

from emulator.cli import main

sys.exit(main())
