"""Grad-CAM and occlusion maps: shapes, ranges, and the explain PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from inference.model_manifest import CANONICAL_CLASSES  # noqa: E402
from tests.training.conftest import synthetic_face  # noqa: E402
from training.explanation_maps import PANEL, explain_image, grad_cam, occlusion_map  # noqa: E402
from training.model_predictors import load_any_model  # noqa: E402


def test_occlusion_finds_the_only_informative_region() -> None:
    # given a "model" whose class-0 probability is the mean of the top-left 8x8 corner
    def corner_model(x: np.ndarray) -> np.ndarray:
        score = x[:, 0, :8, :8].mean(axis=(1, 2))
        return np.stack([score] + [np.zeros_like(score)] * 6, axis=1)

    inputs = np.ones((1, 1, 24, 24), np.float32)
    # when the occlusion map for class 0 is computed
    heat = occlusion_map(corner_model, inputs, target=0)
    # then the heat lies in the top-left corner and is zero far from it
    assert heat.shape == (24, 24)
    assert heat[:8, :8].mean() > 0.5 and heat[16:, 16:].max() == 0.0


def test_grad_cam_and_explain_png(trained_run: Path, tmp_path: Path) -> None:
    # given a trained checkpoint and one face crop on disk
    loaded = load_any_model(str(trained_run / "best.pt"))
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), synthetic_face(3, np.random.default_rng(0)))
    inputs = np.zeros((1, 1, 24, 24), np.float32)
    # when Grad-CAM is computed and the explain PNG is written
    assert loaded.module is not None
    cam = grad_cam(loaded.module, inputs, target=0)
    result = explain_image(loaded, image, tmp_path / "out.png")
    # then the map is in [0, 1] at input size and the PNG has three panels
    assert cam.shape == (24, 24) and cam.min() >= 0.0 and cam.max() <= 1.0
    png = cv2.imread(str(tmp_path / "out.png"))
    assert png is not None and png.shape[1] == 3 * PANEL
    assert result["predicted"] in CANONICAL_CLASSES and result["grad_cam"] is True
