"""Uniform "preprocessed batch -> canonical probabilities" callables for checkpoints and ONNX.

Evaluation, explanation and export all score either a PyTorch checkpoint or a registered ONNX
model; both are wrapped here so that the rest of the pipeline does not care which it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from inference.model_manifest import CANONICAL_CLASSES, ModelManifest, Preprocessing, resolve_model
from training.checkpoints import load_model
from training.errors import CheckpointError
from training.model_evaluation import Predict
from training.training_config import runs_root


@dataclass
class LoadedModel:
    """A scorer plus what it needs: its preprocessing and, for checkpoints, the torch module."""

    name: str
    predict: Predict
    preprocessing: Preprocessing
    module: nn.Module | None = None
    manifest: ModelManifest | None = None


def torch_predictor(model: nn.Module, batch: int = 256) -> Predict:
    """Softmax of a torch model in eval mode, in canonical class order (our models' order)."""

    @torch.no_grad()
    def predict(inputs: np.ndarray) -> np.ndarray:
        model.eval()
        parts = [
            F.softmax(model(torch.from_numpy(inputs[i : i + batch])), dim=1).numpy()
            for i in range(0, len(inputs), batch)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, len(CANONICAL_CLASSES)))

    return predict


def onnx_session(path: Path | bytes, threads: int = 1) -> ort.InferenceSession:
    """A CPU session of a graph file, or of a serialised graph (``bytes``) held in memory."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_predictor(
    path: Path, classes: tuple[str, ...], threads: int = 1, batch: int = 256
) -> Predict:
    """Probabilities of an ONNX model, reordered from ``classes`` to CANONICAL_CLASSES."""
    session = onnx_session(path, threads)
    name = session.get_inputs()[0].name
    order = np.array([classes.index(c) for c in CANONICAL_CLASSES])

    def predict(inputs: np.ndarray) -> np.ndarray:
        parts = [
            session.run(None, {name: inputs[i : i + batch]})[0][:, order]
            for i in range(0, len(inputs), batch)
        ]
        return np.concatenate(parts).astype(np.float32)

    return predict


def resolve_checkpoint(name: str, runs_dir: Path | None = None) -> Path | None:
    """A .pt path as given, or ``<runs dir>/<name>/best.pt`` when that exists; the runs dir is
    ``runs_dir``, else the default (training_config.runs_root), else the older ``.runs``.
    """
    as_path = Path(name)
    if as_path.suffix == ".pt":
        if not as_path.is_file():
            raise CheckpointError(f"checkpoint not found: {as_path}")
        return as_path
    folders = [runs_dir] if runs_dir is not None else [runs_root(), Path(".runs")]
    for folder in folders:
        candidate = folder / name / "best.pt"
        if candidate.is_file():
            return candidate
    return None


def load_any_model(
    name: str, models_dir: Path | None = None, threads: int = 1, rebuild: bool = False
) -> LoadedModel:
    """Load a checkpoint (path or run name) or a registered model of the models directory.

    With ``rebuild``, a registered model that this pipeline exported also gets ``module``, the
    PyTorch module rebuilt from its ONNX weights (training.onnx_weights), so that Grad-CAM
    works without the checkpoint.

    Raises CheckpointError / inference.model_manifest.ManifestError when neither exists.
    """
    checkpoint = resolve_checkpoint(name)
    if checkpoint is not None:
        module, spec, _ = load_model(checkpoint)
        return LoadedModel(str(checkpoint), torch_predictor(module), spec, module)
    from training.onnx_weights import module_from_onnx  # imports onnx_export, which needs us

    manifest, path = resolve_model(name, models_dir)
    predict = onnx_predictor(path, manifest.classes, threads)
    # Scoring stays with onnxruntime; the rebuilt module (when exact) only serves Grad-CAM.
    rebuilt = module_from_onnx(manifest, path) if rebuild else None
    return LoadedModel(name, predict, manifest.preprocessing, rebuilt, manifest)
