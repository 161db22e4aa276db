"""Grad-CAM and occlusion maps: shapes, ranges, and the explain PNG."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from inference.model_manifest import CANONICAL_CLASSES  # noqa: E402
from tests.training.conftest import synthetic_face  # noqa: E402
from tests.training.onnx_models import manifest_for, with_random_batchnorm  # noqa: E402
from training.cli import main  # noqa: E402
from training.explanation_maps import PANEL, explain_image, grad_cam, occlusion_map  # noqa: E402
from training.export_pipeline import export_checkpoint  # noqa: E402
from training.model_predictors import load_any_model  # noqa: E402
from training.model_zoo import BUILDERS, build_model  # noqa: E402
from training.onnx_export import export_onnx  # noqa: E402
from training.onnx_weights import max_difference, module_from_onnx  # noqa: E402


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


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_module_rebuilt_from_onnx_gives_the_same_grad_cam(family: str, tmp_path: Path) -> None:
    # given a model with trained-like batch-norm statistics, exported to ONNX
    torch.manual_seed(0)
    original = with_random_batchnorm(build_model(family, 1, width=0.25, dropout=0.0))
    path = tmp_path / "m.onnx"
    export_onnx(original, (1, 24, 24), path)
    # when the module is rebuilt from the ONNX weights and the manifest's family
    rebuilt = module_from_onnx(manifest_for(family), path)
    # then it matches onnxruntime and its Grad-CAM equals the original's
    assert rebuilt is not None
    assert max_difference(rebuilt, path, (1, 24, 24)) <= 1e-4
    x = np.random.default_rng(1).standard_normal((1, 1, 24, 24)).astype(np.float32)
    for target in (0, 3):
        np.testing.assert_allclose(
            grad_cam(rebuilt, x, target), grad_cam(original, x, target), atol=1e-4
        )


def test_models_not_exported_here_are_not_rebuilt(tmp_path: Path) -> None:
    # given an ONNX file whose manifest has no training record, and one naming the wrong family
    path = tmp_path / "m.onnx"
    export_onnx(build_model("vgg", 1, width=0.25).eval(), (1, 24, 24), path)
    # when rebuilding is attempted, then neither yields a module (occlusion maps only)
    assert module_from_onnx(manifest_for(None), path) is None
    assert module_from_onnx(manifest_for("resnet"), path) is None


def test_explain_a_registered_model_draws_grad_cam(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a trained checkpoint exported as a registered ONNX model (checkpoint not needed)
    models = tmp_path / "models"
    export_checkpoint(trained_run / "best.pt", "tiny", models)
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), synthetic_face(3, np.random.default_rng(0)))
    capsys.readouterr()
    # when `python -m training explain --model tiny FACE --out PNG` runs
    out = tmp_path / "out.png"
    argv = [
        "explain",
        "--model",
        "tiny",
        "--models-dir",
        str(models),
        str(image),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    # then the PNG has the face, Grad-CAM and occlusion panels
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    png = cv2.imread(str(out))
    assert result["grad_cam"] is True
    assert png is not None and png.shape[1] == 3 * PANEL
