"""Model families at 48x48 and 64x64, optimisers and learning-rate schedules, an RGB run."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from inference.model_manifest import CANONICAL_CLASSES  # noqa: E402
from tests.training.conftest import tiny_config  # noqa: E402
from training.checkpoints import load_model  # noqa: E402
from training.model_zoo import BUILDERS, build_model  # noqa: E402
from training.training_config import TrainingConfig, parse_config  # noqa: E402
from training.training_loop import make_optimizer, make_scheduler  # noqa: E402
from training.training_run import train_model  # noqa: E402


@pytest.mark.parametrize("family", sorted(BUILDERS))
@pytest.mark.parametrize(("channels", "size"), [(1, 48), (1, 64), (3, 48), (3, 64)])
def test_every_family_takes_48_and_64_pixel_gray_and_rgb_faces(
    family: str, channels: int, size: int
) -> None:
    # given a model of each family for gray or RGB input
    model = build_model(family, channels, width=0.5).eval()
    # when it scores two faces of 48x48 or 64x64
    with torch.no_grad():
        out = model(torch.zeros(2, channels, size, size))
    # then it returns one logit per canonical class
    assert out.shape == (2, len(CANONICAL_CLASSES))


def config_with(**train: object) -> TrainingConfig:
    raw = tiny_config(Path("t"), Path("v"), Path("o"))
    raw["train"] |= train
    return parse_config(raw)


@pytest.mark.parametrize(
    ("name", "cls"),
    [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)],
)
def test_optimizer_choice(name: str, cls: type) -> None:
    # given a config naming an optimiser
    config = config_with(optimizer=name, lr=0.01)
    # when the optimiser is made
    opt = make_optimizer(torch.nn.Linear(2, 2), config)
    # then it is that optimiser at the configured rate (SGD with Nesterov momentum)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.01
    if name == "sgd":
        assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["momentum"] == 0.9


def lrs(schedule: str, steps: int) -> list[float]:
    config = config_with(schedule=schedule, lr=0.1, epochs=1)
    opt = make_optimizer(torch.nn.Linear(2, 2), config)
    sched = make_scheduler(opt, config, steps)
    seen = []
    for _ in range(steps):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return seen


def test_cosine_starts_at_the_peak_and_anneals_to_the_floor() -> None:
    # given a cosine schedule of 100 steps at lr 0.1
    # when stepped through
    seen = lrs("cosine", 100)
    # then it starts at 0.1, falls monotonically and ends near 0.1 / 1e4
    assert seen[0] == pytest.approx(0.1)
    assert all(b <= a for a, b in pairwise(seen))
    assert seen[-1] < 0.1 / 1e3


def test_onecycle_warms_up_before_annealing() -> None:
    # given a one-cycle schedule of 100 steps (15% warm-up)
    seen = lrs("onecycle", 100)
    # then it starts at max/25, peaks at 0.1 after 15 steps and ends far below the start
    assert seen[0] == pytest.approx(0.1 / 25)
    assert max(seen) == pytest.approx(0.1) and seen.index(max(seen)) == 15
    assert seen[-1] < seen[0]


def test_a_budgeted_schedule_is_only_ever_shortened() -> None:
    # given a one-cycle schedule of 100 steps, stepped past its peak
    from training.lr_schedules import PlannedOneCycle

    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    sched = PlannedOneCycle(opt, max_lr=0.1, total_steps=100)
    seen = []
    # when, after every "epoch" of 10 steps, the budget's plan says 60, then 100 steps again
    # (a slow epoch, then quick ones: the plan of a run sharing its CPU)
    for epoch in range(5):
        for _ in range(10):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        sched.shorten(60 if epoch == 2 else 100)
    # then the schedule stays at 60 steps and the rate never rises after its peak
    assert sched.total_steps == 60
    peak = seen.index(max(seen))
    assert all(b <= a for a, b in pairwise(seen[peak:]))


def test_plateau_halves_the_rate_when_val_loss_stalls() -> None:
    # given ReduceLROnPlateau (factor 0.5, patience 3) fed a constant val loss
    config = config_with(schedule="plateau", lr=0.1)
    opt = make_optimizer(torch.nn.Linear(2, 2), config)
    sched = make_scheduler(opt, config, steps=10)
    # when five epochs report the same loss
    for _ in range(5):
        sched.step(1.0)
    # then the rate was halved once
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_rgb_run_with_sgd_and_cosine(synthetic_split: Path, tmp_path: Path) -> None:
    # given an RGB 32x32 config with SGD and a cosine schedule
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path)
    raw["preprocessing"] |= {"color": "rgb", "size": 32, "mean": [0.5] * 3, "std": [0.3] * 3}
    raw["model"]["family"] = "mobile"
    raw["train"] |= {"optimizer": "sgd", "schedule": "cosine", "epochs": 1, "lr": 0.05}
    config = parse_config(raw)
    # when trained for one epoch
    summary = train_model(config)
    # then the checkpoint is a three-channel model for 32x32 input
    model, spec, _ = load_model(config.run_dir / "best.pt")
    assert (spec.channels, spec.size, summary["epochs_run"]) == (3, 32, 1)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, len(CANONICAL_CLASSES))
