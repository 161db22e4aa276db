"""Batch augmentation in PyTorch, vectorised over the batch (no per-image Python loops).

Operates on already-preprocessed inputs (N,C,H,W float), so the engine's preprocessing is
applied exactly once and identically to run time. One affine warp per batch combines rotation,
zoom, shift, shear and horizontal flip (``affine_grid``/``grid_sample``); brightness/contrast act
on the normalised values (a per-pixel affine map commutes with the engine's normalisation);
random erasing blanks one rectangle per chosen image. Small-face augmentation shrinks a share of
the faces to a random size of ``small_face_sizes`` pixels and scales them back up, as the
engine does with a small face in a camera frame. Every random number comes from the run's one
generator, so a resumed run replays the same augmentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentationConfig:
    """Ranges are symmetric: rotation ±degrees, zoom ±fraction, shift ±fraction of the side,
    brightness ±offset and contrast ±fraction in normalised input units."""

    enabled: bool = True
    rotation_deg: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1
    shear_deg: float = 5.0
    hflip: bool = True
    brightness: float = 0.2
    contrast: float = 0.2
    erase_prob: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.15)
    # Down-and-up scaling: this share of faces is shrunk to a random side of
    # small_face_sizes[0]..[1] pixels (area interpolation) and scaled back (bilinear).
    small_face_prob: float = 0.0
    small_face_sizes: tuple[int, int] = (16, 48)
    # Mixup / CutMix (training/batch_mixing.py): share of batches mixed, Beta parameters and
    # the share of mixed batches that use CutMix instead of mixup.
    mix_prob: float = 0.0
    mixup_alpha: float = 0.2
    cutmix_alpha: float = 1.0
    cutmix_share: float = 0.5


def draw(n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """n samples from U(0, 1), drawn on the CPU generator (so one seed serves CPU and CUDA)."""
    return torch.rand(n, generator=gen).to(device)


def uniform(n: int, spread: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """n samples from U(-spread, spread)."""
    return (draw(n, gen, device) * 2.0 - 1.0) * spread


def affine_matrices(
    n: int, cfg: AugmentationConfig, gen: torch.Generator, device: torch.device
) -> torch.Tensor:
    """(n,2,3) matrices for ``affine_grid`` mapping output to input coordinates in [-1, 1]."""
    angle = uniform(n, math.radians(cfg.rotation_deg), gen, device)
    shear = uniform(n, math.radians(cfg.shear_deg), gen, device)
    scale = 1.0 + uniform(n, cfg.zoom, gen, device)
    flip = torch.ones(n, device=device)
    if cfg.hflip:
        flip = torch.where(draw(n, gen, device) < 0.5, -flip, flip)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Rotation @ shear-x @ flip, divided by zoom: a zoom > 1 samples a smaller input window.
    a = cos * flip / scale
    b = (cos * torch.tan(shear) - sin) / scale
    c = sin * flip / scale
    d = (sin * torch.tan(shear) + cos) / scale
    tx = uniform(n, 2.0 * cfg.shift, gen, device)
    ty = uniform(n, 2.0 * cfg.shift, gen, device)
    return torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)


def erase_masks(batch: torch.Tensor, cfg: AugmentationConfig, gen: torch.Generator) -> torch.Tensor:
    """Boolean (N,1,H,W) masks, one random rectangle for a share ``erase_prob`` of images."""
    n, _, h, w = batch.shape
    dev = batch.device
    area = cfg.erase_area[0] + draw(n, gen, dev) * (cfg.erase_area[1] - cfg.erase_area[0])
    aspect = torch.exp(uniform(n, math.log(3.0), gen, dev))
    eh = (torch.sqrt(area * aspect) * h).clamp(1, h)
    ew = (torch.sqrt(area / aspect) * w).clamp(1, w)
    y0 = draw(n, gen, dev) * (h - eh)
    x0 = draw(n, gen, dev) * (w - ew)
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    inside_y = (ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1))
    inside_x = (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1))
    chosen = (draw(n, gen, dev) < cfg.erase_prob).view(n, 1, 1)
    return (inside_y & inside_x & chosen).unsqueeze(1)


def shrink_faces(
    batch: torch.Tensor, cfg: AugmentationConfig, gen: torch.Generator
) -> torch.Tensor:
    """Down-and-up scale a random share ``small_face_prob`` of the faces (see the config).

    Draws 2N numbers whatever is chosen, so the generator advances the same way every batch.
    Sizes at or above the input side leave a face unchanged.
    """
    n, _, h, w = batch.shape
    low, high = cfg.small_face_sizes
    chosen = draw(n, gen, batch.device) < cfg.small_face_prob
    sides = (low + draw(n, gen, batch.device) * (high - low + 1)).floor().long().clamp(low, high)
    out = batch.clone()
    for side in sorted({int(s) for s in sides[chosen].tolist()}):
        pick = chosen & (sides == side)
        if side >= min(h, w):
            continue
        small = F.interpolate(batch[pick], size=(side, side), mode="area")
        out[pick] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return out


def augment_batch(
    batch: torch.Tensor, cfg: AugmentationConfig, gen: torch.Generator
) -> torch.Tensor:
    """Return an augmented copy of ``batch`` (N,C,H,W float); the input is left unchanged."""
    if not cfg.enabled:
        return batch
    n = batch.shape[0]
    theta = affine_matrices(n, cfg, gen, batch.device)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 1.0 + uniform(n, cfg.contrast, gen, batch.device).view(n, 1, 1, 1)
    brightness = uniform(n, cfg.brightness, gen, batch.device).view(n, 1, 1, 1)
    out = (out - mean) * contrast + mean + brightness
    if cfg.small_face_prob > 0:
        out = shrink_faces(out, cfg, gen)
    if cfg.erase_prob > 0:
        noise = torch.randn(out.shape, generator=gen).to(out.device)
        out = torch.where(erase_masks(out, cfg, gen), noise, out)
    return out
