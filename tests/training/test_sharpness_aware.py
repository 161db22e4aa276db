"""Sharpness-aware steps: the gradient is taken at the perturbed weights, and nothing else moves."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import Tensor, nn  # noqa: E402

from tests.training.conftest import tiny_config, write_class_folders  # noqa: E402
from training.batchnorm_momentum import batchnorm_momentum  # noqa: E402
from training.errors import ConfigError  # noqa: E402
from training.sharpness_aware import (  # noqa: E402
    perturb_weights,
    restore_weights,
    sharpness_aware_backward,
)
from training.training_config import parse_config  # noqa: E402
from training.training_run import train_model  # noqa: E402


def quadratic_model() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(3, 1, bias=False)


def test_perturbation_has_radius_rho_and_is_undone_exactly() -> None:
    # Given a model with a gradient
    model = quadratic_model()
    before = model.weight.detach().clone()
    (model(torch.ones(1, 3)) ** 2).sum().backward()
    # When its weights are perturbed by rho = 0.1 and restored
    moves = perturb_weights(model, 0.1)
    moved = model.weight.detach().clone()
    restore_weights(moves)
    # Then the move had length rho along the gradient, and the weights are back
    assert torch.linalg.vector_norm(moved - before).item() == pytest.approx(0.1, rel=1e-5)
    direction = model.weight.grad / torch.linalg.vector_norm(model.weight.grad)
    assert torch.allclose(moved - before, 0.1 * direction, atol=1e-7)
    assert torch.allclose(model.weight.detach(), before, atol=1e-7)


def test_sam_gradient_is_the_gradient_at_the_worst_nearby_weights() -> None:
    # Given L(w) = (w . x)^2 with a known gradient 2 (w . x) x
    model = quadratic_model()
    x = torch.tensor([[1.0, -2.0, 0.5]])
    w = model.weight.detach().clone()
    g = 2 * (w @ x.T) * x
    w_adv = w + 0.2 * g / torch.linalg.vector_norm(g)

    def loss_of() -> tuple[Tensor, None]:
        return (model(x) ** 2).sum(), None

    # When the SAM gradient is computed with rho = 0.2
    loss, _ = sharpness_aware_backward(model, loss_of, 0.2)
    # Then .grad holds the gradient at w_adv, the loss is the one at w, and w is unchanged
    assert torch.allclose(model.weight.grad, 2 * (w_adv @ x.T) * x, atol=1e-5)
    assert loss.item() == pytest.approx(float((w @ x.T) ** 2), rel=1e-6)
    assert torch.allclose(model.weight.detach(), w)


def test_rho_zero_is_the_plain_gradient() -> None:
    model = quadratic_model()
    x = torch.tensor([[1.0, 2.0, 3.0]])
    w = model.weight.detach().clone()
    sharpness_aware_backward(model, lambda: ((model(x) ** 2).sum(), None), 0.0)
    assert torch.allclose(model.weight.grad, 2 * (w @ x.T) * x)


def test_perturbed_pass_leaves_batchnorm_running_statistics_alone() -> None:
    # Given a batch-norm layer in training mode
    layer = nn.BatchNorm1d(2, momentum=0.1)
    layer.train()
    assert layer.running_mean is not None and layer.running_var is not None
    mean, var = layer.running_mean.clone(), layer.running_var.clone()
    # When a batch goes through inside the frozen block
    with batchnorm_momentum(layer, 0.0):
        layer(torch.randn(8, 2) + 5)
    # Then the running statistics are unchanged and the momentum is back
    assert torch.equal(layer.running_mean, mean) and torch.equal(layer.running_var, var)
    assert layer.momentum == 0.1
    layer(torch.randn(8, 2) + 5)
    assert not torch.equal(layer.running_mean, mean)


def test_negative_rho_is_refused(tmp_path: Path) -> None:
    data = tiny_config(tmp_path / "t", tmp_path / "v", tmp_path / "runs")
    data["train"]["sam_rho"] = -0.05
    with pytest.raises(ConfigError, match="sam_rho"):
        parse_config(data)


def batch_losses(root: Path, rho: float) -> list[float]:
    train_dir = write_class_folders(root / "train", ["happy", "sad", "neutral"], 10)
    val_dir = write_class_folders(root / "val", ["happy", "sad", "neutral"], 4, seed=1)
    data = tiny_config(train_dir, val_dir, root / "runs", epochs=2)
    data["train"]["sam_rho"] = rho
    data["train"]["batch_size"] = 8
    losses: list[float] = []
    train_model(parse_config(data), after_batch=lambda step, loss: losses.append(loss))
    return losses


def test_a_run_with_sam_takes_other_steps_than_without(tmp_path: Path) -> None:
    # Given the same tiny run (same seed, data and batches) with and without SAM
    plain = batch_losses(tmp_path / "plain", 0.0)
    sam = batch_losses(tmp_path / "sam", 0.05)
    # Then the first loss, taken before any step, is the same, and the steps then differ
    assert len(sam) == len(plain) == 8
    assert sam[0] == pytest.approx(plain[0], abs=1e-6)
    assert max(abs(a - b) for a, b in zip(sam[1:], plain[1:], strict=True)) > 1e-4
    assert all(loss == loss and loss < 10 for loss in sam)


def test_batchnorm_momentum_comes_back_after_an_error() -> None:
    # Given a model with two batch-norm layers of different momentum
    model = nn.Sequential(nn.BatchNorm1d(2, momentum=0.1), nn.BatchNorm1d(2, momentum=None))
    # When the block that set them to 0 fails
    with pytest.raises(RuntimeError), batchnorm_momentum(model, 0.0) as layers:
        assert [layer.momentum for layer in layers] == [0.0, 0.0]
        raise RuntimeError("a failed pass")
    # Then each layer has its own momentum again
    assert [model[0].momentum, model[1].momentum] == [0.1, None]
