"""Batch augmentation: shapes, determinism, the flip and erasing behaviour."""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from torch import Tensor  # noqa: E402

from training.augmentation import AugmentationConfig, augment_batch, erase_masks  # noqa: E402

NO_OP = AugmentationConfig(
    rotation_deg=0.0,
    zoom=0.0,
    shift=0.0,
    shear_deg=0.0,
    hflip=False,
    brightness=0.0,
    contrast=0.0,
    erase_prob=0.0,
)


def batch(n: int = 16, size: int = 24) -> Tensor:
    return torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(0))


def test_shapes_and_dtype_are_preserved_for_gray_and_rgb() -> None:
    # given gray and RGB batches
    for channels in (1, 3):
        x = torch.randn(8, channels, 48, 48)
        # when augmented with the default (literature) settings
        out = augment_batch(x, AugmentationConfig(), torch.Generator().manual_seed(1))
        # then shape and dtype are unchanged and the input is left untouched
        assert out.shape == x.shape and out.dtype == x.dtype
        assert not torch.equal(out, x)


def test_same_seed_same_augmentation() -> None:
    # given one batch and two generators with the same seed
    x = batch()
    # when augmented twice
    a = augment_batch(x, AugmentationConfig(), torch.Generator().manual_seed(7))
    b = augment_batch(x, AugmentationConfig(), torch.Generator().manual_seed(7))
    # then the results are identical
    assert torch.equal(a, b)


def test_identity_settings_return_the_input() -> None:
    # given all ranges set to zero, and augmentation disabled
    x = batch()
    # when augmented
    same = augment_batch(x, NO_OP, torch.Generator().manual_seed(0))
    off = augment_batch(x, replace(AugmentationConfig(), enabled=False), torch.Generator())
    # then the warp is the identity (up to interpolation rounding) and "off" is a no-op
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    assert off is x


def test_flip_only_mirrors_about_half_of_the_images() -> None:
    # given flip as the only augmentation
    x = batch(n=64)
    # when augmented
    out = augment_batch(x, replace(NO_OP, hflip=True), torch.Generator().manual_seed(3))
    # then each image is either itself or its mirror, and both happen
    same = [torch.allclose(o, i, atol=1e-5) for o, i in zip(out, x, strict=True)]
    mirrored = [torch.allclose(o, i.flip(-1), atol=1e-5) for o, i in zip(out, x, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 10 < sum(mirrored) < 54


def test_erasing_covers_the_configured_share_of_area() -> None:
    # given erasing on every image with areas between 2% and 15%
    cfg = replace(NO_OP, erase_prob=1.0, erase_area=(0.02, 0.15))
    x = batch(n=200, size=48)
    # when masks are drawn
    masks = erase_masks(x, cfg, torch.Generator().manual_seed(5))
    # then every image gets one rectangle within the area range (pixel rounding allowed)
    share = masks.float().mean(dim=(1, 2, 3))
    assert masks.shape == (200, 1, 48, 48)
    assert float(share.min()) > 0.0 and float(share.max()) <= 0.2
