"""Mixup and CutMix on a training batch, and the matching loss.

A share ``mix_prob`` of batches is mixed with a shuffled copy of itself: mixup blends whole
images with weight ``lam ~ Beta(mixup_alpha, mixup_alpha)``; CutMix (``cutmix_share`` of the
mixed batches) pastes one rectangle of the partner image whose area is ``1 - lam``, with
``lam ~ Beta(cutmix_alpha, cutmix_alpha)`` rounded to the pasted pixels. The loss is
``lam * CE(y) + (1 - lam) * CE(y_partner)``. All randomness comes from the run's generator
(the Beta draw through a NumPy generator seeded from it), so a resumed run mixes identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from training.augmentation import AugmentationConfig


@dataclass
class MixedBatch:
    """Inputs after mixing, both label sets and the weight of the first."""

    inputs: torch.Tensor
    labels: torch.Tensor
    partner_labels: torch.Tensor
    lam: float


def draw_beta(alpha: float, gen: torch.Generator) -> float:
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def cutmix_box(h: int, w: int, lam: float, gen: torch.Generator) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of a rectangle of about ``(1 - lam)`` of the image, clipped to it."""
    cut = float(np.sqrt(1.0 - lam))
    ch, cw = round(h * cut), round(w * cut)
    cy, cx = (int(torch.randint(0, size, (1,), generator=gen)) for size in (h, w))
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch - ch // 2, h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw - cw // 2, w)
    return y0, y1, x0, x1


def mix_batch(
    inputs: torch.Tensor, labels: torch.Tensor, cfg: AugmentationConfig, gen: torch.Generator
) -> MixedBatch:
    """Mix the batch per the config (or return it unchanged, ``lam = 1``)."""
    if not cfg.enabled or cfg.mix_prob <= 0 or float(torch.rand(1, generator=gen)) >= cfg.mix_prob:
        return MixedBatch(inputs, labels, labels, 1.0)
    partner = torch.randperm(len(labels), generator=gen).to(inputs.device)
    use_cutmix = float(torch.rand(1, generator=gen)) < cfg.cutmix_share
    if not use_cutmix:
        lam = draw_beta(cfg.mixup_alpha, gen)
        mixed = lam * inputs + (1.0 - lam) * inputs[partner]
        return MixedBatch(mixed, labels, labels[partner], lam)
    h, w = inputs.shape[2:]
    y0, y1, x0, x1 = cutmix_box(h, w, draw_beta(cfg.cutmix_alpha, gen), gen)
    mixed = inputs.clone()
    mixed[:, :, y0:y1, x0:x1] = inputs[partner][:, :, y0:y1, x0:x1]
    lam = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
    return MixedBatch(mixed, labels, labels[partner], lam)


def mixed_loss(
    logits: torch.Tensor, batch: MixedBatch, weights: torch.Tensor, smoothing: float
) -> torch.Tensor:
    """Weighted, label-smoothed cross-entropy against both label sets, in proportion ``lam``."""
    loss = F.cross_entropy(logits, batch.labels, weight=weights, label_smoothing=smoothing)
    if batch.lam >= 1.0:
        return loss
    other = F.cross_entropy(logits, batch.partner_labels, weight=weights, label_smoothing=smoothing)
    return batch.lam * loss + (1.0 - batch.lam) * other
