"""Sharpness-aware minimisation (SAM; Foret et al., ICLR 2021) for one optimiser step.

SAM seeks weights whose whole neighbourhood has a low loss, not only the weights themselves:
each step first climbs to the worst point within an L2 ball of radius ``rho`` around the
current weights (to first order, ``w + rho * g / ||g||``), takes the gradient there, comes back
and lets the usual optimiser (AdamW, SGD) step with that gradient. It costs a second forward
and backward pass per step. Its authors report it also resists noisy labels, which FER-2013 has
(about one face in ten is labelled differently by other annotators).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from training.batchnorm_momentum import batchnorm_momentum

T = TypeVar("T")


def perturb_weights(model: nn.Module, rho: float) -> list[tuple[nn.Parameter, torch.Tensor]]:
    """Move every parameter that has a gradient by ``rho * grad / ||grad||`` (the global L2
    norm over all of them), in place; returns the moves for ``restore_weights``."""
    pairs = [(p, p.grad) for p in model.parameters() if p.grad is not None]
    if not pairs:
        return []
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for _, g in pairs]))
    scale = rho / (float(norm) + 1e-12)
    moves = []
    with torch.no_grad():
        for param, grad in pairs:
            move = grad * scale
            param.add_(move)
            moves.append((param, move))
    return moves


def restore_weights(moves: list[tuple[nn.Parameter, torch.Tensor]]) -> None:
    """Undo ``perturb_weights`` in place."""
    with torch.no_grad():
        for param, move in moves:
            param.sub_(move)


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
    # Momentum 0: the perturbed pass normalises by its batch's statistics but leaves the running
    # averages that inference uses as one plain step would.
    with batchnorm_momentum(model, 0.0):
        perturbed, _ = loss_of()
        perturbed.backward()
    restore_weights(moves)
    return loss, extra
