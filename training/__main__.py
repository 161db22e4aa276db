"""Entry point: ``python -m training {train,evaluate,explain,export}``."""

from training.cli import main

raise SystemExit(main())
