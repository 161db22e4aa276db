"""Weight averaging along a run (stochastic weight averaging, Izmailov et al. 2018).

With ``[train] average_from_epoch = N`` the run keeps the running mean of the network's
parameters at the end of every epoch from N on. A mean of weights is one network that costs what
one member costs at inference time, unlike an ensemble of the same snapshots. Batch-norm running
statistics are not averaged: they belong to the weights they were measured with, so they are
measured again for the averaged weights with one pass over the training faces.

The mean is kept in FP32 and written into every resume checkpoint, so a resumed run averages
exactly what an uninterrupted one does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from training.batchnorm_momentum import batchnorm_momentum


@dataclass
class WeightAverage:
    """The running mean of a model's parameters over ``count`` snapshots (epochs)."""

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    count: int = 0
    first_epoch: int = 0
    last_epoch: int = 0

    def add(self, model: nn.Module, epoch: int) -> None:
        """Fold the model's current parameters into the mean (buffers are left out)."""
        params = {name: p.detach().float().cpu() for name, p in model.named_parameters()}
        if self.count == 0:
            self.tensors = {name: value.clone() for name, value in params.items()}
            self.first_epoch = epoch
        else:
            for name, value in params.items():
                self.tensors[name] += (value - self.tensors[name]) / (self.count + 1)
        self.count += 1
        self.last_epoch = epoch

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensors": self.tensors,
            "count": self.count,
            "first_epoch": self.first_epoch,
            "last_epoch": self.last_epoch,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> WeightAverage:
        return cls() if data is None else cls(**data)


def averaged_model(model: nn.Module, average: WeightAverage) -> nn.Module:
    """A copy of ``model`` carrying the averaged parameters; ``model`` itself is not touched.
    Its batch-norm statistics are still the model's: call ``recompute_batchnorm`` next."""
    if average.count == 0:
        raise ValueError("no snapshot has been averaged yet")
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for name, param in twin.named_parameters():
            param.copy_(average.tensors[name].to(param.device, param.dtype))
    return twin


@torch.no_grad()
def recompute_batchnorm(
    model: nn.Module, inputs: torch.Tensor, device: torch.device, batch: int = 256
) -> None:
    """Measure every batch-norm's running mean and variance afresh over ``inputs``
    (preprocessed faces, no augmentation): the plain average over all batches.

    Only the batch-norm layers are in training mode during the pass, so dropout draws nothing
    from torch's random generator (a resumed run's random stream stays the same). Leaves the
    model in eval mode.
    """
    model.eval()
    with batchnorm_momentum(model, None) as norms:  # None: a cumulative average over the batches
        for m in norms:
            m.reset_running_stats()
            m.train()
        for i in range(0, len(inputs), batch):
            model(inputs[i : i + batch].to(device))
    for m in norms:
        m.eval()
