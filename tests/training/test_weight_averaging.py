"""Weight averaging along a run: the mean of the epochs' weights, batch-norm statistics measured
afresh, written to averaged.pt, and resumed exactly after a kill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from torch import nn  # noqa: E402

from tests.training.conftest import tiny_config  # noqa: E402
from tests.training.test_interrupted_training import (  # noqa: E402
    resumable_config,
    run_child,
    write_config,
)
from training.checkpoint_store import list_checkpoints  # noqa: E402
from training.checkpoints import load_model  # noqa: E402
from training.errors import ConfigError  # noqa: E402
from training.model_zoo import build_model  # noqa: E402
from training.training_config import parse_config  # noqa: E402
from training.training_loop import as_tensors, load_split, make_scheduler  # noqa: E402
from training.training_run import train_model  # noqa: E402
from training.weight_averaging import (  # noqa: E402
    WeightAverage,
    averaged_model,
    recompute_batchnorm,
)


def parameters_of(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    names = {name for name, _ in model.named_parameters()}
    return {k: v for k, v in state_dict.items() if k in names}


def test_the_average_is_the_mean_of_the_snapshots_and_leaves_buffers_out() -> None:
    # given a network whose parameters are set to 1, 2 and 6 in turn, each snapshot averaged
    model = build_model("baseline", 1, 0.25, 0.0)
    average = WeightAverage()
    for epoch, value in ((3, 1.0), (4, 2.0), (5, 6.0)):
        with torch.no_grad():
            for param in model.parameters():
                param.fill_(value)
        average.add(model, epoch)
    # then the mean is 3 everywhere, over epochs 3-5, and no buffer is in it
    assert (average.count, average.first_epoch, average.last_epoch) == (3, 3, 5)
    assert set(average.tensors) == {name for name, _ in model.named_parameters()}
    assert all(torch.allclose(t, torch.full_like(t, 3.0)) for t in average.tensors.values())
    # and the averaged copy carries it while the model keeps its own weights
    twin = averaged_model(model, average)
    assert all(torch.allclose(p, torch.full_like(p, 3.0)) for p in twin.parameters())
    assert all(torch.equal(p, torch.full_like(p, 6.0)) for p in model.parameters())


def test_an_empty_average_is_refused() -> None:
    with pytest.raises(ValueError, match="no snapshot"):
        averaged_model(build_model("baseline", 1, 0.25, 0.0), WeightAverage())


def test_batchnorm_statistics_are_measured_on_the_faces_without_drawing_random_numbers() -> None:
    # given a convolution, a batch-norm with stale statistics and a dropout
    torch.manual_seed(0)
    norm = nn.BatchNorm2d(4)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), norm, nn.Dropout(0.5))
    assert norm.running_mean is not None
    norm.running_mean.fill_(5.0)
    inputs = torch.randn(64, 1, 12, 12) * 2 + 1
    rng_before = torch.get_rng_state()
    # when the statistics are measured in batches of 16
    recompute_batchnorm(model, inputs, torch.device("cpu"), batch=16)
    # then they are the plain average over the batches of the convolution's outputs
    with torch.no_grad():
        batches = [model[0](inputs[i : i + 16]) for i in range(0, 64, 16)]
    means = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches])
    variances = torch.stack([b.transpose(0, 1).reshape(4, -1).var(dim=1) for b in batches])
    assert torch.allclose(norm.running_mean, means.mean(0), atol=1e-5)
    assert torch.allclose(norm.running_var, variances.mean(0), atol=1e-4)
    # and the dropout drew nothing, the model is in eval mode, the momentum is back
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert not model.training and not norm.training
    assert norm.momentum == 0.1


def averaging_config(data: Path, out: Path) -> dict[str, Any]:
    raw = tiny_config(data, data, out, family="resnet", epochs=3)
    raw["run"]["checkpoint_minutes"] = 60.0  # checkpoints at epoch ends only: epochs 2 and 3 kept
    raw["train"] |= {"average_from_epoch": 2, "schedule": "constant"}
    return raw


def test_a_run_writes_the_mean_of_its_epochs_weights_with_fresh_batchnorm_statistics(
    synthetic_split: Path, tmp_path: Path
) -> None:
    # given a three-epoch run that averages from epoch 2
    config = parse_config(averaging_config(synthetic_split, tmp_path))
    # when it runs
    summary = train_model(config)
    # then averaged.pt holds the mean of the weights at the ends of epochs 2 and 3 (the two
    # resume checkpoints kept) and says so
    run_dir = config.run_dir
    ends = [torch.load(path, weights_only=False) for _, path in list_checkpoints(run_dir)]
    assert [payload["epoch"] for payload in ends] == [4, 3]  # the epoch each one resumes at
    averaged = torch.load(run_dir / "averaged.pt", weights_only=False)
    model, _, _ = load_model(run_dir / "averaged.pt")
    for name, value in parameters_of(averaged["state_dict"], model).items():
        mean = (ends[0]["state_dict"][name] + ends[1]["state_dict"][name]) / 2
        assert torch.allclose(value, mean, atol=1e-6), name
    assert averaged["averaged_epochs"] == [2, 3] and summary["averaged_epochs"] == [2, 3]
    assert "averaged weights of epochs 2-3 (2): val_loss=" in (run_dir / "run.log").read_text()
    assert summary["val_by_face_px_averaged"] is not None
    # and its batch-norm statistics are those of the averaged weights on the training faces,
    # not the last epoch's
    inputs, _ = as_tensors(load_split(config, "train"))
    expected = averaged_model(model, WeightAverage(parameters_of(averaged["state_dict"], model), 1))
    recompute_batchnorm(expected, inputs, torch.device("cpu"))
    for name, value in expected.state_dict().items():
        if name.endswith(("running_mean", "running_var")):
            assert torch.allclose(averaged["state_dict"][name], value, atol=1e-5), name
            assert not torch.allclose(ends[0]["state_dict"][name], value, atol=1e-3), name


def test_a_killed_averaging_run_resumes_to_the_same_average(
    synthetic_split: Path, tmp_path: Path
) -> None:
    # given an averaging run with every source of randomness on, uninterrupted
    raw = resumable_config(synthetic_split, tmp_path / "reference")
    raw["train"]["average_from_epoch"] = 2
    reference = parse_config(raw)
    train_model(reference)
    # and the same run killed (SIGKILL) at step 14: epoch 3, batch 2, after one snapshot
    raw = resumable_config(synthetic_split, tmp_path / "runs")
    raw["train"]["average_from_epoch"] = 2
    config = write_config(raw, tmp_path / "run.toml")
    assert run_child(config, stop_at=14, how="kill", resume=False).returncode == -9
    # when it is resumed
    resumed = run_child(config, stop_at=-1, how="kill", resume=True)
    assert resumed.returncode == 0, resumed.stderr
    # then its averaged network is exactly the uninterrupted run's
    ours = torch.load(parse_config(raw).run_dir / "averaged.pt", weights_only=False)
    theirs = torch.load(reference.run_dir / "averaged.pt", weights_only=False)
    assert ours["averaged_epochs"] == theirs["averaged_epochs"] == [2, 3]
    assert all(torch.equal(ours["state_dict"][k], v) for k, v in theirs["state_dict"].items())


def test_the_constant_schedule_warms_up_then_stays_at_the_peak(
    synthetic_split: Path, tmp_path: Path
) -> None:
    # given a constant schedule of 2 epochs of 10 steps (warm-up: 5% = 1 step)
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path, epochs=2)
    raw["train"]["schedule"] = "constant"
    opt = torch.optim.AdamW(build_model("baseline", 1, 0.25, 0.0).parameters())
    sched = make_scheduler(opt, parse_config(raw), steps=10)
    # then it starts low and is at the peak from step 1 to the end
    assert sched.lr_at(0) == pytest.approx(0.003 / 25)
    assert [sched.lr_at(s) for s in range(1, 21)] == pytest.approx([0.003] * 20)


@pytest.mark.parametrize("start", [-1, 4])
def test_averaging_from_an_epoch_outside_the_run_is_refused(
    synthetic_split: Path, tmp_path: Path, start: int
) -> None:
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path, epochs=3)
    raw["train"]["average_from_epoch"] = start
    with pytest.raises(ConfigError, match=r"average_from_epoch must be 0 \(off\) or an epoch"):
        parse_config(raw)


def test_an_exported_average_says_which_epochs_it_holds(
    synthetic_split: Path, tmp_path: Path
) -> None:
    # given a finished three-epoch run that averaged epochs 2-3
    from training.export_pipeline import export_checkpoint

    config = parse_config(averaging_config(synthetic_split, tmp_path / "runs"))
    train_model(config)
    # when its averaged.pt is exported
    export_checkpoint(config.run_dir / "averaged.pt", "averaged", tmp_path / "models")
    # then the manifest and the card say it is the mean of epochs 2-3, not an epoch picked on val
    data = json.loads((tmp_path / "models" / "averaged" / "manifest.json").read_text())
    assert data["training"]["averaged_epochs"] == [2, 3]
    assert "the mean of the weights of epochs 2-3 (fixed, not selected)" in data["description"]
    card = (tmp_path / "models" / "averaged" / "MODEL_CARD.md").read_text()
    assert "kept the mean of the weights of epochs 2-3 (weight averaging)" in card
    assert "it holds the mean of the weights of epochs 2-3, fixed in the config" in card
    assert "best epoch" not in card and "selected on val\n" not in card
