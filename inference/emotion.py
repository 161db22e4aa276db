"""Emotion classification of face crops with ONNX Runtime.

One :class:`EmotionClassifier` (one InferenceSession) per process; it runs whole batches and
returns probabilities in the canonical class order whatever order the model file uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference.emotion_preprocessing import preprocess_faces
from inference.model_manifest import CANONICAL_CLASSES, ModelManifest, resolve_model


def create_session(model_path: Path, threads: int) -> ort.InferenceSession:
    """CPU session with ``threads`` intra-op threads (0 = onnxruntime's default: all cores)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


class EmotionClassifier:
    """Loads a registered, checksum-verified model (ManifestError otherwise)."""

    def __init__(
        self, name: str | None = None, threads: int = 1, models_dir: Path | None = None
    ) -> None:
        manifest, path = resolve_model(name, models_dir)
        self.manifest: ModelManifest = manifest
        self.session = create_session(path, threads)
        self.input_name = self.session.get_inputs()[0].name
        # Column i of the canonical output is column order[i] of the model's output.
        self.order = np.array([manifest.classes.index(c) for c in CANONICAL_CLASSES])

    def classify(self, crops: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """uint8 face crops -> (N, 7) float32 probabilities in CANONICAL_CLASSES order."""
        if not crops:
            return np.zeros((0, len(CANONICAL_CLASSES)), dtype=np.float32)
        parts = []
        for start in range(0, len(crops), batch_size):
            batch = preprocess_faces(crops[start : start + batch_size], self.manifest.preprocessing)
            parts.append(self.session.run(None, {self.input_name: batch})[0])
        return np.concatenate(parts)[:, self.order].astype(np.float32)
