"""Helpers of the tests that export models to ONNX and rebuild them from it: a model's manifest
and trained-like batch-norm statistics.

Not in conftest.py because this module imports torch, the optional `training` extra: a
conftest importing it would fail every test of the folder where torch is not installed, while
the torch-free tests (the CLI, the config, the platform without torch) must still run. Import
it only after ``pytest.importorskip("torch")``.
"""

from __future__ import annotations

import torch
from torch import nn

from inference.model_manifest import CANONICAL_CLASSES, ModelManifest, Preprocessing


def manifest_for(family: str | None, size: int = 24) -> ModelManifest:
    """The manifest of an exported ``m.onnx`` of ``family`` (None: no training details)."""
    training = {"model": {"family": family, "width": 0.25, "dropout": 0.0}} if family else {}
    return ModelManifest(
        name="m",
        version="1",
        classes=CANONICAL_CLASSES,
        preprocessing=Preprocessing(size=size),
        file="m.onnx",
        sha256="",
        licence="",
        source="",
        training=training,
    )


def with_random_batchnorm(model: nn.Module) -> nn.Module:
    """Give every batch-norm non-trivial statistics, as training would, so folding matters."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            n = m.num_features
            m.running_mean = torch.randn(n, generator=gen) * 0.5
            m.running_var = torch.rand(n, generator=gen) + 0.5
            m.weight.data = torch.rand(n, generator=gen) + 0.5
            m.bias.data = torch.randn(n, generator=gen) * 0.2
    return model.eval()
