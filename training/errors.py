"""Exceptions raised by the training pipeline, each with a message a user can act on."""

from __future__ import annotations


class TrainingError(Exception):
    """Base class for every error the training pipeline reports to its user."""


class DatasetError(TrainingError):
    """A dataset is missing or malformed: unknown class, unreadable file, empty class, bad row."""


class ConfigError(TrainingError):
    """A training config file is missing, not TOML, or has an unknown or invalid setting."""


class CheckpointError(TrainingError):
    """A checkpoint file is missing or was not written by this pipeline."""


class ExportError(TrainingError):
    """ONNX export, its parity check or quantization failed."""
