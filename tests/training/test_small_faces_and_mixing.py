"""Small-face (down-and-up scaling) augmentation and evaluation, mixup and CutMix."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

import torch.nn.functional as F  # noqa: E402

from inference.emotion_preprocessing import preprocess_faces  # noqa: E402
from inference.model_manifest import Preprocessing  # noqa: E402
from training.augmentation import AugmentationConfig, shrink_faces  # noqa: E402
from training.batch_mixing import mix_batch, mixed_loss  # noqa: E402
from training.face_size_evaluation import evaluate_face_sizes, shrink_inputs  # noqa: E402

SPEC = Preprocessing(size=48, mean=(0.5,), std=(0.3,))


def faces(n: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_small_face_augmentation_blurs_only_the_chosen_share() -> None:
    # given a sharp random batch and small faces of exactly 12 px for every face
    x = torch.randn(16, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    cfg = AugmentationConfig(small_face_prob=1.0, small_face_sizes=(12, 12))
    # when augmented
    out = shrink_faces(x, cfg, torch.Generator().manual_seed(1))
    # then each face equals its 12 px version scaled back up (and the input is untouched)
    small = F.interpolate(x, size=(12, 12), mode="area")
    expected = F.interpolate(small, size=(48, 48), mode="bilinear", align_corners=False)
    assert torch.allclose(out, expected, atol=1e-6)
    # and with probability 0 nothing changes, while the generator still advances
    gen = torch.Generator().manual_seed(1)
    assert torch.equal(shrink_faces(x, replace(cfg, small_face_prob=0.0), gen), x)
    assert not torch.equal(gen.get_state(), torch.Generator().manual_seed(1).get_state())


def test_small_face_sizes_are_drawn_over_the_whole_range() -> None:
    # given faces that are all chosen, sizes 16..48 on a 48 px input
    x = torch.randn(400, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    cfg = AugmentationConfig(small_face_prob=1.0, small_face_sizes=(16, 48))
    # when augmented, then some faces keep their detail (48 px) and many lose it
    out = shrink_faces(x, cfg, torch.Generator().manual_seed(2))
    unchanged = (out - x).abs().flatten(1).max(1).values < 1e-6
    assert 0 < int(unchanged.sum()) < 40  # about 1 in 33 sizes is 48


def test_shrink_inputs_matches_the_engine_on_a_small_crop() -> None:
    # given preprocessed 48 px faces
    crops = faces()
    inputs = preprocess_faces(list(crops), SPEC)
    # when shrunk to 24 px for evaluation
    shrunk = shrink_inputs(inputs, SPEC, 24)
    # then it is what the engine computes for the same faces delivered as 24 px crops
    import cv2

    small = [cv2.resize(c, (24, 24), interpolation=cv2.INTER_AREA) for c in crops]
    assert np.allclose(shrunk, preprocess_faces(small, SPEC), atol=1e-6)
    # and at the input size nothing changes
    assert shrink_inputs(inputs, SPEC, 48) is inputs


def test_face_size_report_falls_for_a_model_that_needs_detail() -> None:
    # given a "model" that predicts class 1 when neighbouring pixels differ a lot, else 0
    def predict(inputs: np.ndarray) -> np.ndarray:
        sharp = np.abs(np.diff(inputs, axis=3)).mean(axis=(1, 2, 3)) > 0.5
        return np.eye(7, dtype=np.float32)[sharp.astype(int)]

    inputs = preprocess_faces(list(faces(20)), SPEC)
    labels = np.ones(20, dtype=np.int64)
    # when evaluated by face size
    report = evaluate_face_sizes(predict, inputs, labels, SPEC, (48, 16))
    # then noise faces are recognised at 48 px and not once shrunk to 16 px
    assert report["48"]["accuracy"] == 1.0 and report["16"]["accuracy"] == 0.0


def test_mixup_blends_images_and_labels_in_the_same_proportion() -> None:
    # given a batch and mixup on every batch (no CutMix)
    x = torch.randn(7, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    y = torch.arange(7)  # one image per class: a label names its image
    cfg = AugmentationConfig(mix_prob=1.0, cutmix_share=0.0, mixup_alpha=0.4)
    # when mixed
    mixed = mix_batch(x, y, cfg, torch.Generator().manual_seed(3))
    # then every image is lam * itself + (1 - lam) * its partner's, labels in that proportion
    partner = mixed.partner_labels
    blend = mixed.lam * x + (1 - mixed.lam) * x[partner]
    assert 0 < mixed.lam < 1 and torch.allclose(mixed.inputs, blend, atol=1e-6)
    logits = torch.randn(7, 7)
    none = torch.ones(7)
    expected = mixed.lam * F.cross_entropy(logits, y) + (1 - mixed.lam) * F.cross_entropy(
        logits, mixed.partner_labels
    )
    assert torch.allclose(mixed_loss(logits, mixed, none, 0.0), expected)


def test_cutmix_pastes_a_box_whose_area_sets_lam() -> None:
    # given CutMix on every batch
    x = torch.zeros(4, 1, 20, 20)
    x[1:] = torch.arange(1, 4, dtype=torch.float32).view(3, 1, 1, 1)
    cfg = AugmentationConfig(mix_prob=1.0, cutmix_share=1.0)
    # when mixed
    mixed = mix_batch(x, torch.arange(4), cfg, torch.Generator().manual_seed(5))
    # then the share of pixels that changed in each image with a different partner is 1 - lam
    for i in range(4):
        if int(mixed.partner_labels[i]) != i:
            changed = float((mixed.inputs[i] != x[i]).float().mean())
            assert changed == pytest.approx(1 - mixed.lam)
    # and with augmentation disabled nothing is mixed
    off = mix_batch(x, torch.arange(4), replace(cfg, enabled=False), torch.Generator())
    assert off.lam == 1.0 and off.inputs is x
