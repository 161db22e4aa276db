"""Function-preserving widening of a trained ResNet (Net2WiderNet, Chen, Goodfellow, Shlens 2016).

A network of this family trained for many sessions stops improving at its width; a wider one
trained from scratch would need those sessions again. Widening copies the trained network into
a wider one of the same family so that it computes the same function, and training goes on
from there with more capacity.

How: every new channel of a layer is a copy of an old channel (the first ``old`` channels are the
old ones, the rest picked at random). A copied channel's incoming weights and batch-norm are the
old channel's; where a later layer reads channels, the copies of one old channel share its
outgoing weight, in random shares that sum to one. Equal shares would keep the copies identical
for ever (identical inputs, identical gradients); unequal ones break that symmetry while the sum,
and so the function, stays exact. Batch-norm statistics of copies are equal too, so the wider
network computes the same in training mode as well as in eval mode. Channels joined by an
identity shortcut (the residual stream of a stage) use one mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from training.errors import CheckpointError
from training.model_zoo import BasicBlock

SHARE_JITTER = 0.2  # each copy's share of an old channel is 1/n * (1 +- up to 20%), renormalised

Part = TypeVar("Part", bound=nn.Module)


def child(parent: nn.Module, index: int, kind: type[Part]) -> Part:
    """``parent[index]``, which must be a ``kind``; anything else is another architecture."""
    part = parent[index] if isinstance(parent, nn.Sequential) else None
    if not isinstance(part, kind):
        raise CheckpointError("widening is implemented for the resnet family only")
    return part


@dataclass(frozen=True)
class ChannelCopies:
    """For each new channel: which old channel it copies, and its share of that channel's output."""

    index: torch.Tensor  # long, (new,)
    share: torch.Tensor  # float, (new,); copies of one old channel sum to 1


def channel_copies(old: int, new: int, generator: torch.Generator) -> ChannelCopies:
    """Keep the ``old`` channels in place and copy randomly picked ones into the rest."""
    if new < old:
        raise CheckpointError(f"cannot narrow a layer from {old} to {new} channels")
    extra = torch.randint(old, (new - old,), generator=generator)
    index = torch.cat([torch.arange(old), extra])
    raw = 1 + SHARE_JITTER * (2 * torch.rand(new, generator=generator, dtype=torch.float64) - 1)
    totals = torch.zeros(old, dtype=torch.float64).index_add_(0, index, raw)
    return ChannelCopies(index, (raw / totals[index]).float())


def copy_tensor(target: torch.Tensor, source: torch.Tensor, name: str) -> None:
    if target.shape != source.shape:
        raise CheckpointError(f"{name}: widened shape {tuple(source.shape)} != {target.shape}")
    with torch.no_grad():
        target.copy_(source)


def widen_weight(
    weight: torch.Tensor, out: ChannelCopies | None, inp: ChannelCopies | None
) -> torch.Tensor:
    """Rows copied by ``out``; columns copied by ``inp`` and scaled by their shares."""
    if out is not None:
        weight = weight[out.index]
    if inp is not None:
        shape = (1, -1) + (1,) * (weight.dim() - 2)
        weight = weight[:, inp.index] * inp.share.view(shape)
    return weight


def widen_conv(
    old: nn.Conv2d, new: nn.Conv2d, out: ChannelCopies, inp: ChannelCopies | None
) -> None:
    if old.groups != 1 or old.bias is not None:
        raise CheckpointError("only plain bias-free convolutions can be widened")
    copy_tensor(new.weight, widen_weight(old.weight, out, inp), "conv weight")


def widen_batchnorm(old: nn.BatchNorm2d, new: nn.BatchNorm2d, out: ChannelCopies) -> None:
    assert old.running_mean is not None and old.running_var is not None
    assert new.running_mean is not None and new.running_var is not None
    copy_tensor(new.weight, old.weight[out.index], "batch-norm weight")
    copy_tensor(new.bias, old.bias[out.index], "batch-norm bias")
    copy_tensor(new.running_mean, old.running_mean[out.index], "batch-norm running mean")
    copy_tensor(new.running_var, old.running_var[out.index], "batch-norm running variance")
    if old.num_batches_tracked is not None and new.num_batches_tracked is not None:
        copy_tensor(new.num_batches_tracked, old.num_batches_tracked, "batch-norm count")


def widen_conv_bn(
    old: nn.Module,
    new: nn.Module,
    inp: ChannelCopies | None,
    generator: torch.Generator,
    out: ChannelCopies | None = None,
) -> ChannelCopies:
    """Widen a conv + batch-norm pair; returns the copies of its output channels."""
    conv_old, conv_new = child(old, 0, nn.Conv2d), child(new, 0, nn.Conv2d)
    if out is None:
        out = channel_copies(conv_old.out_channels, conv_new.out_channels, generator)
    widen_conv(conv_old, conv_new, out, inp)
    widen_batchnorm(child(old, 1, nn.BatchNorm2d), child(new, 1, nn.BatchNorm2d), out)
    return out


def widen_block(
    old: BasicBlock, new: BasicBlock, stream: ChannelCopies, generator: torch.Generator
) -> ChannelCopies:
    """Widen one basic block whose input channels are ``stream``; returns its output copies."""
    identity = isinstance(old.shortcut, nn.Identity)
    if identity != isinstance(new.shortcut, nn.Identity):
        raise CheckpointError("the wider network's shortcuts differ from the trained one's")
    inner = widen_conv_bn(old.body[0], new.body[0], stream, generator)
    # the identity shortcut adds the input as it is, so the output keeps the input's copies
    out = widen_conv_bn(old.body[1], new.body[1], inner, generator, stream if identity else None)
    if not identity:
        widen_conv_bn(old.shortcut, new.shortcut, stream, generator, out)
    return out


def widen_resnet(old: nn.Module, new: nn.Module, seed: int) -> nn.Module:
    """Fill ``new`` (resnet family, wider) from trained ``old``; returns ``new``.

    Both come from ``build_model("resnet", ...)`` with the same input and blocks. Deterministic
    for a given ``seed``. Raises CheckpointError when the two are not the same architecture at
    two widths (``new`` no narrower than ``old`` anywhere).
    """
    if not isinstance(old, nn.Sequential) or not isinstance(new, nn.Sequential):
        raise CheckpointError("widening is implemented for the resnet family only")
    if len(old) != len(new):
        raise CheckpointError("the wider network has another number of blocks")
    generator = torch.Generator().manual_seed(seed)
    stream = widen_conv_bn(old[0], new[0], None, generator)
    for i in range(1, len(old) - 1):
        stream = widen_block(
            child(old, i, BasicBlock), child(new, i, BasicBlock), stream, generator
        )
    head_old, head_new = (
        child(old, len(old) - 1, nn.Sequential),
        child(new, len(new) - 1, nn.Sequential),
    )
    fc_old = child(head_old, len(head_old) - 1, nn.Linear)
    fc_new = child(head_new, len(head_new) - 1, nn.Linear)
    copy_tensor(fc_new.weight, widen_weight(fc_old.weight, None, stream), "classifier weight")
    copy_tensor(fc_new.bias, fc_old.bias, "classifier bias")
    return new
