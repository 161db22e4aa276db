"""Accuracy on small faces: each face shrunk to N pixels and scaled back to the input size.

A face that is 24 pixels wide in a camera frame reaches the model as a 24-pixel crop that
``preprocess_faces`` scales up (INTER_LINEAR). To measure that on a labelled split, the
preprocessed inputs are turned back into uint8 crops (undoing the normalisation exactly, up to
rounding), shrunk to ``face_px`` with INTER_AREA and passed through ``preprocess_faces`` again,
the engine's own function. Needs NumPy and OpenCV only (no torch).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

from inference.emotion_preprocessing import preprocess_faces
from inference.model_manifest import Preprocessing
from training.model_evaluation import Predict, evaluate_predictions

FACE_SIZES = (48, 32, 24, 16)


def inputs_to_crops(inputs: np.ndarray, spec: Preprocessing) -> list[np.ndarray]:
    """uint8 crops (gray H,W or BGR H,W,3) whose preprocessing gives back ``inputs``."""
    nhwc = inputs if spec.layout == "NHWC" else inputs.transpose(0, 2, 3, 1)
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    pixels = np.clip(np.rint((nhwc * std + mean) / spec.scale), 0, 255).astype(np.uint8)
    if spec.channels == 1:
        return list(pixels[..., 0])
    return list(pixels[..., ::-1])  # RGB -> BGR, the engine's crop order


def shrink_inputs(inputs: np.ndarray, spec: Preprocessing, face_px: int) -> np.ndarray:
    """Model inputs of the same faces seen ``face_px`` pixels wide; unchanged when
    ``face_px`` is at least the input size (nothing is lost then).
    """
    if face_px >= spec.size:
        return inputs
    crops = inputs_to_crops(inputs, spec)
    small = [cv2.resize(c, (face_px, face_px), interpolation=cv2.INTER_AREA) for c in crops]
    return preprocess_faces(small, spec)


def evaluate_face_sizes(
    predict: Predict,
    inputs: np.ndarray,
    labels: np.ndarray,
    spec: Preprocessing,
    sizes: Iterable[int] = FACE_SIZES,
) -> dict[str, dict[str, Any]]:
    """{"48": {"accuracy", "macro_f1", "balanced_accuracy"}, "32": ...} for each face size."""
    report: dict[str, dict[str, Any]] = {}
    for px in sizes:
        metrics = evaluate_predictions(labels, predict(shrink_inputs(inputs, spec, px)))
        report[str(px)] = {
            k: metrics[k] for k in ("accuracy", "macro_f1", "balanced_accuracy", "n")
        }
    return report


def describe_face_sizes(report: dict[str, dict[str, Any]]) -> str:
    """'accuracy by face size: 48 px 0.663, 32 px 0.640, ...' for logs and the console."""
    parts = [f"{px} px {m['accuracy']:.4f}" for px, m in report.items()]
    return "accuracy by face size: " + ", ".join(parts)
