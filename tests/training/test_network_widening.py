"""A trained ResNet widened into a wider one that computes the same function (Net2WiderNet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from torch import Tensor, nn  # noqa: E402

from inference.model_manifest import CANONICAL_CLASSES  # noqa: E402
from tests.training.conftest import tiny_config, write_class_folders  # noqa: E402
from tests.training.onnx_models import with_random_batchnorm  # noqa: E402
from training.checkpoints import read_weights  # noqa: E402
from training.cli import main  # noqa: E402
from training.errors import CheckpointError  # noqa: E402
from training.export_pipeline import export_checkpoint  # noqa: E402
from training.model_zoo import build_model  # noqa: E402
from training.network_widening import channel_copies, widen_resnet  # noqa: E402
from training.training_config import parse_config  # noqa: E402
from training.training_run import train_model  # noqa: E402


def faces(n: int = 32, size: int = 24, seed: int = 1) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, size, size, generator=gen)


def probabilities(model: nn.Module, x: Tensor, training: bool) -> Tensor:
    with torch.no_grad():
        return torch.softmax(model.train(training)(x), 1)


@pytest.mark.parametrize("training", [False, True], ids=["eval", "batch statistics"])
def test_widened_resnet_computes_what_the_trained_one_computes(training: bool) -> None:
    # given a trained-like ResNet at width 0.5 (batch-norms with non-trivial statistics)
    torch.manual_seed(0)
    trained = with_random_batchnorm(build_model("resnet", 1, width=0.5, dropout=0.0))
    # when it is widened to width 1.0
    wide = widen_resnet(trained, build_model("resnet", 1, width=1.0, dropout=0.0), seed=3)
    # then it has more channels in every layer and the same probabilities, in eval mode and
    # with batch statistics (training mode)
    assert sum(p.numel() for p in wide.parameters()) > 3 * sum(
        p.numel() for p in trained.parameters()
    )
    x = faces()
    difference = probabilities(trained, x, training) - probabilities(wide, x, training)
    assert float(difference.abs().max()) <= 1e-5


def test_copies_of_a_channel_share_its_output_unequally_and_the_shares_sum_to_one() -> None:
    # given channel copies from 10 channels to 16
    copies = channel_copies(10, 16, torch.Generator().manual_seed(0))
    # then the old channels keep their places and every copy's shares sum to one
    assert copies.index[:10].tolist() == list(range(10))
    totals = torch.zeros(10).index_add_(0, copies.index, copies.share)
    assert torch.allclose(totals, torch.ones(10), atol=1e-6)
    # and a channel with two copies splits unequally, so that training can tell them apart
    copied = int(copies.index[10])
    shares = copies.share[copies.index == copied]
    assert len(shares) >= 2 and float(shares.max() - shares.min()) > 1e-3


def test_widened_copies_do_not_stay_identical_under_training() -> None:
    # given a widened ResNet whose new channels are exact copies of old ones
    torch.manual_seed(0)
    trained = with_random_batchnorm(build_model("resnet", 1, width=0.5, dropout=0.0))
    wide = widen_resnet(trained, build_model("resnet", 1, width=1.0, dropout=0.0), seed=3)
    stem_conv = wide.get_submodule("0.0")
    assert isinstance(stem_conv, nn.Conv2d)
    stem = stem_conv.weight.detach()
    copies = channel_copies(16, 32, torch.Generator().manual_seed(3))  # the stem's, same seed
    twin = int(copies.index[16])
    assert torch.equal(stem[16], stem[twin])
    # when it takes a few optimiser steps
    optimiser = torch.optim.SGD(wide.parameters(), lr=0.1)
    for step in range(3):
        loss = torch.nn.functional.cross_entropy(
            wide.train()(faces(seed=step)), torch.arange(32) % 7
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    # then the copy has moved away from its original (unequal shares, unequal gradients)
    assert float((stem[16] - stem[twin]).abs().max()) > 1e-6


def test_narrowing_and_other_architectures_are_refused() -> None:
    # given a trained ResNet at width 0.5
    trained = build_model("resnet", 1, width=0.5, dropout=0.0)
    # when it is "widened" into a narrower one, or into another family
    # then each refusal says why instead of writing wrong weights
    with pytest.raises(CheckpointError, match="cannot narrow"):
        widen_resnet(trained, build_model("resnet", 1, width=0.25, dropout=0.0), seed=0)
    with pytest.raises(CheckpointError, match=r"resnet family|number of blocks"):
        widen_resnet(trained, build_model("vgg", 1, width=1.0, dropout=0.0), seed=0)


@pytest.fixture(scope="module")
def registered_resnet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(models folder holding `tiny-resnet`, its training split), trained for one epoch."""
    base = tmp_path_factory.mktemp("resnet")
    data = write_class_folders(base / "train", list(CANONICAL_CLASSES), per_class=6)
    config = parse_config(tiny_config(data, data, base / "runs", family="resnet", epochs=1))
    train_model(config)
    export_checkpoint(config.run_dir / "best.pt", "tiny-resnet", base / "models")
    return base / "models", data


def test_cli_writes_widened_weights_a_wider_config_can_start_from(
    registered_resnet: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a registered ResNet at width 0.25 exported by this pipeline
    models, data = registered_resnet
    base = ["weights-from-onnx", "--model", "tiny-resnet", "--models-dir", str(models)]
    base += ["--data", str(data), "--faces", "40"]
    assert main([*base, "--out", str(tmp_path / "same.pt")]) == 0
    capsys.readouterr()
    # when its weights are recovered widened to width 0.5
    assert main([*base, "--width", "0.5", "--seed", "5", "--out", str(tmp_path / "wide.pt")]) == 0
    # then the file loads strictly into the width-0.5 network, which computes what the
    # recovered width-0.25 network computes
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["width"], result["widened_from"], result["widening_seed"]) == (0.5, 0.25, 5)
    narrow = build_model("resnet", 1, 0.25, 0.0)
    narrow.load_state_dict(read_weights(tmp_path / "same.pt"), strict=True)
    wide = build_model("resnet", 1, 0.5, 0.0)
    wide.load_state_dict(read_weights(tmp_path / "wide.pt"), strict=True)
    x = faces()
    difference = probabilities(narrow, x, False) - probabilities(wide, x, False)
    assert float(difference.abs().max()) <= 1e-4


def test_cli_refuses_to_widen_another_family(
    trained_run: Path, synthetic_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a registered model of the baseline family
    models = tmp_path / "models"
    export_checkpoint(trained_run / "best.pt", "tiny", models)
    out = tmp_path / "wide.pt"
    # when its weights are asked for at another width
    argv = ["weights-from-onnx", "--model", "tiny", "--models-dir", str(models), "--width", "0.5"]
    code = main([*argv, "--data", str(synthetic_split), "--faces", "20", "--out", str(out)])
    # then the command fails, says which families it can widen, and writes nothing
    assert code == 2
    assert "resnet family, not baseline" in capsys.readouterr().err
    assert not out.exists()
