"""Saving and loading checkpoints: weights plus everything needed to rebuild the model."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inference.model_manifest import Preprocessing
from training.errors import CheckpointError
from training.model_zoo import build_model
from training.training_config import TrainingConfig

FORMAT = "wellbeing-training-checkpoint/1"


def save_checkpoint(
    path: Path, model: nn.Module, config: TrainingConfig, extra: dict[str, Any]
) -> None:
    """Write atomically (temp file + rename) so a killed run never leaves a half checkpoint."""
    payload = {
        "format": FORMAT,
        "state_dict": model.state_dict(),
        "model": asdict(config.model),
        "preprocessing": asdict(config.preprocessing),
        "config": config.raw,
        **extra,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict; raises CheckpointError when missing or not ours."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint written by `python -m training train`")
    return payload


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a local weights file for transfer learning: a checkpoint of this pipeline or
    a plain ``torch.save(model.state_dict())`` file. Loaded with ``weights_only=True``, so a
    weights file from elsewhere cannot run code.
    """
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        raise CheckpointError(f"cannot read weights {path}: {exc}") from exc
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict) or not payload:
        raise CheckpointError(f"{path} holds no state_dict (parameter name -> tensor)")
    if not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise CheckpointError(f"{path} holds no state_dict (parameter name -> tensor)")
    return payload


def preprocessing_of(payload: dict[str, Any]) -> Preprocessing:
    pre = payload["preprocessing"]
    return Preprocessing(**{**pre, "mean": tuple(pre["mean"]), "std": tuple(pre["std"])})


def load_model(path: Path) -> tuple[nn.Module, Preprocessing, dict[str, Any]]:
    """(model in eval mode, its preprocessing, the checkpoint dict) from a checkpoint file."""
    payload = read_checkpoint(path)
    spec = preprocessing_of(payload)
    m = payload["model"]
    model = build_model(m["family"], spec.channels, m["width"], m["dropout"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, spec, payload
