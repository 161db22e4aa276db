"""Batch-norm layers of a model, and their running-average momentum set for a block of code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Every batch-norm layer of ``model`` (1d, 2d or 3d), in module order."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@contextmanager
def batchnorm_momentum(
    model: nn.Module, momentum: float | None
) -> Iterator[list[nn.modules.batchnorm._BatchNorm]]:
    """Inside the block every batch-norm layer of ``model`` folds batch statistics into its
    running averages with ``momentum`` (0.0: not at all; None: a cumulative average); each
    layer's own momentum is back afterwards, also on an exception. Yields the layers."""
    layers = batchnorm_layers(model)
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = momentum
    try:
        yield layers
    finally:
        for layer, value in zip(layers, saved, strict=True):
            layer.momentum = value
