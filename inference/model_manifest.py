"""Emotion model manifests and the models directory.

A models directory holds one sub-folder per registered model::

    <models_dir>/
        registry.json              {"active": "<name>"}
        <name>/manifest.json       ModelManifest as JSON
        <name>/model.onnx          the file named by manifest.file, checked against manifest.sha256
        <name>/MODEL_CARD.md       optional, human-readable

This module is shared by the inference engine (loading) and the training pipeline (export),
so both agree on classes, input size and preprocessing. It imports neither Django nor PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

# The one canonical label order used everywhere outside a model file (database columns,
# API payloads, charts). A model may emit its classes in another order: manifest.classes says
# which, and the engine maps its outputs onto this order.
CANONICAL_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sad",
    "surprise",
)

# The emotions whose probability mass makes up "negative affect".
NEGATIVE_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "sad")

DEFAULT_MODELS_DIR = Path(__file__).resolve().parent / "models"


class ManifestError(ValueError):
    """A manifest, registry or model file is missing, malformed or fails its checksum."""


@dataclass(frozen=True)
class Preprocessing:
    """How a face crop becomes the model's input tensor.

    ``normalised = (pixel_uint8 * scale - mean) / std`` per channel, after converting to
    ``color`` and resizing to ``size`` x ``size`` (cv2.INTER_AREA). ``layout`` is the input
    tensor layout of the ONNX graph: "NCHW" or "NHWC".
    """

    color: Literal["gray", "rgb"] = "gray"
    size: int = 48
    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    layout: Literal["NCHW", "NHWC"] = "NCHW"

    @property
    def channels(self) -> int:
        return 1 if self.color == "gray" else 3


@dataclass(frozen=True)
class ModelManifest:
    """Everything needed to load, trust and explain one emotion model file."""

    name: str
    version: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    file: str
    sha256: str
    licence: str
    source: str
    description: str = ""
    evaluation: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelManifest:
        try:
            pre = Preprocessing(
                **{
                    **data["preprocessing"],
                    "mean": tuple(data["preprocessing"]["mean"]),
                    "std": tuple(data["preprocessing"]["std"]),
                }
            )
            manifest = cls(**{**data, "classes": tuple(data["classes"]), "preprocessing": pre})
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"malformed manifest: {exc}") from exc
        unknown = set(manifest.classes) - set(CANONICAL_CLASSES)
        if unknown:
            raise ManifestError(f"manifest names unknown classes: {sorted(unknown)}")
        return manifest

    @classmethod
    def load(cls, path: Path) -> ModelManifest:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise ManifestError(f"cannot read manifest {path}: {exc}") from exc


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def models_dir() -> Path:
    """The models directory: $WELLBEING_MODELS_DIR, else the one shipped in this package."""
    return Path(os.environ.get("WELLBEING_MODELS_DIR", DEFAULT_MODELS_DIR))


def list_models(directory: Path | None = None) -> list[ModelManifest]:
    base = directory or models_dir()
    return [ModelManifest.load(p) for p in sorted(base.glob("*/manifest.json"))]


def active_model_name(directory: Path | None = None) -> str:
    registry = (directory or models_dir()) / "registry.json"
    try:
        return str(json.loads(registry.read_text())["active"])
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise ManifestError(f"no active model in {registry}: {exc}") from exc


def set_active_model(name: str, directory: Path | None = None) -> None:
    base = directory or models_dir()
    if not (base / name / "manifest.json").is_file():
        raise ManifestError(f"model {name!r} is not registered in {base}")
    (base / "registry.json").write_text(json.dumps({"active": name}, indent=2) + "\n")


def activate_if_unset(name: str, directory: Path | None = None) -> bool:
    """Make ``name`` active only when the registry names no registered model; True if it did.

    Used by importers: re-importing a model must not silently replace the one operators chose.
    """
    base = directory or models_dir()
    try:
        current: str | None = active_model_name(base)
    except ManifestError:
        current = None
    if current is not None and (base / current / "manifest.json").is_file():
        return False
    set_active_model(name, base)
    return True


def resolve_model(
    name: str | None = None, directory: Path | None = None
) -> tuple[ModelManifest, Path]:
    """Return (manifest, path of the verified model file) for ``name`` or the active model.

    Raises ManifestError when the model is unknown, its file is missing or the checksum differs.
    """
    base = directory or models_dir()
    chosen = name or active_model_name(base)
    manifest = ModelManifest.load(base / chosen / "manifest.json")
    model_path = base / chosen / manifest.file
    if not model_path.is_file():
        raise ManifestError(f"model file missing: {model_path}")
    actual = sha256_file(model_path)
    if actual != manifest.sha256:
        raise ManifestError(
            f"checksum mismatch for {model_path}: expected {manifest.sha256}, got {actual}"
        )
    return manifest, model_path
