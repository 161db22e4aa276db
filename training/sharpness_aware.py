"""Sharpness-aware minimisation (SAM; Foret et al., ICLR 2021) for one optimiser step.

SAM seeks weights whose whole neighbourhood has a low loss, not only the weights themselves:
each step first climbs to the worst point within an L2 ball of radius ``rho`` around the
current weights (to first order, ``w + rho * g / ||g||``), takes the gradient there, comes back
and lets the usual optimiser (AdamW, SGD) step with that gradient. It costs a second forward
and backward pass per step. Its authors report it also resists noisy labels, which FER-2013 has
(about one face in ten is labelled differently by other annotators).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")


def perturb_weights(model: nn.Module, rho: float) -> list[tuple[nn.Parameter, torch.Tensor]]:
    """Move every parameter that has a gradient by ``rho * grad / ||grad||`` (the global L2
    norm over all of them), in place; returns the moves for ``restore_weights``."""
    params = [p for p in model.parameters() if p.grad is not None]
    if not params:
        return []
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = rho / (float(norm) + 1e-12)
    moves = []
    with torch.no_grad():
        for param, grad in zip(params, grads, strict=True):
            move = grad * scale
            param.add_(move)
            moves.append((param, move))
    return moves


def restore_weights(moves: list[tuple[nn.Parameter, torch.Tensor]]) -> None:
    """Undo ``perturb_weights`` in place."""
    with torch.no_grad():
        for param, move in moves:
            param.sub_(move)


@contextmanager
def frozen_batchnorm_statistics(model: nn.Module) -> Iterator[None]:
    """Batch-norm layers still normalise by the batch's statistics inside this block but do not
    fold them into their running averages (momentum 0), so the perturbed pass of a SAM step
    leaves the statistics that inference uses exactly as one plain step would."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    try:
        yield
    finally:
        for layer, momentum in zip(layers, saved, strict=True):
            layer.momentum = momentum


def sharpness_aware_backward(
    model: nn.Module, loss_of: Callable[[], tuple[torch.Tensor, T]], rho: float
) -> tuple[torch.Tensor, T]:
    """Leave in every parameter's ``.grad`` the SAM gradient (taken at the perturbed weights),
    with the weights back where they were; the caller then steps its optimiser.

    ``loss_of()`` computes the batch's loss (and anything else, returned with it) at the current
    weights; it is called twice, so it must not draw new augmentation. ``rho == 0`` is the plain
    gradient (one pass). Returns what the first call returned: the loss at the unperturbed
    weights is the one to report.
    """
    model.zero_grad(set_to_none=True)
    loss, extra = loss_of()
    loss.backward()
    if rho <= 0:
        return loss, extra
    moves = perturb_weights(model, rho)
    model.zero_grad(set_to_none=True)
    with frozen_batchnorm_statistics(model):
        perturbed, _ = loss_of()
        perturbed.backward()
    restore_weights(moves)
    return loss, extra
