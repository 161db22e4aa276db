"""Training pipeline for facial-expression models (PyTorch; installed with the `training` extra).

The platform itself runs without PyTorch: nothing under ``inference/`` imports this package.
Commands: ``python -m training train|evaluate|explain|export`` (see docs/training.md).
"""
