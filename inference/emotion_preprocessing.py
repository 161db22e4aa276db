"""The one preprocessing function for emotion models, used at run time and in training.

Training (``training/``) calls :func:`preprocess_faces` on its (augmented) uint8 crops and the
inference engine calls it on aligned face crops, so a model sees exactly the same input
distribution in both places.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from inference.model_manifest import Preprocessing


def to_model_color(crop: np.ndarray, color: str) -> np.ndarray:
    """Convert a uint8 crop (H,W gray, H,W,3 BGR or H,W,4 BGRA) to gray (H,W) or RGB (H,W,3)."""
    if crop.ndim == 2:
        return crop if color == "gray" else cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB)
    if crop.ndim == 3 and crop.shape[2] == 4:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGRA2BGR)
    if crop.ndim != 3 or crop.shape[2] != 3:
        raise ValueError(f"unsupported crop shape {crop.shape}")
    code = cv2.COLOR_BGR2GRAY if color == "gray" else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(crop, code)


def preprocess_faces(crops: Sequence[np.ndarray], spec: Preprocessing) -> np.ndarray:
    """Turn uint8 face crops into one float32 batch in the model's layout.

    Returns shape (N, C, size, size) for "NCHW" or (N, size, size, C) for "NHWC".
    Crops of any size are resized with INTER_AREA (shrinking) or INTER_LINEAR (growing).
    """
    size = spec.size
    batch = np.empty((len(crops), size, size, spec.channels), dtype=np.float32)
    for i, crop in enumerate(crops):
        img = to_model_color(np.asarray(crop, dtype=np.uint8), spec.color)
        if img.shape[0] != size or img.shape[1] != size:
            grow = img.shape[0] < size or img.shape[1] < size
            interp = cv2.INTER_LINEAR if grow else cv2.INTER_AREA
            img = cv2.resize(img, (size, size), interpolation=interp)
        batch[i] = img.reshape(size, size, spec.channels)
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    batch = (batch * np.float32(spec.scale) - mean) / std
    if spec.layout == "NCHW":
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
    return batch
