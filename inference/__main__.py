"""Entry point: ``python -m inference``."""

import sys

from inference.cli import main

sys.exit(main())
