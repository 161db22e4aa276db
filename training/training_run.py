"""``python -m training train``: one full training run from a config (see training_loop)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inference.model_manifest import CANONICAL_CLASSES
from training.checkpoints import read_checkpoint, read_weights, save_checkpoint
from training.dataset_loaders import describe_counts
from training.errors import CheckpointError
from training.lr_schedules import plan_epochs
from training.model_zoo import build_model, count_macs, count_params
from training.training_config import TrainingConfig
from training.training_curves import render_curves
from training.training_loop import (
    append_log,
    as_tensors,
    class_weights,
    describe_recalls,
    is_better,
    load_split,
    make_optimizer,
    make_scheduler,
    pick_device,
    seed_everything,
    train_epoch,
    validate,
)


def prepare_model(config: TrainingConfig, device: torch.device) -> nn.Module:
    """Build the configured model; start from ``model.pretrained`` weights when given."""
    m = config.model
    model = build_model(m.family, config.preprocessing.channels, m.width, m.dropout)
    if m.pretrained:
        weights = read_weights(Path(m.pretrained))
        own = model.state_dict()
        # Transfer learning: take every tensor whose name and shape match (the head may differ).
        usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
        if not usable:
            raise CheckpointError(f"{m.pretrained} shares no weights with a {m.family} model")
        model.load_state_dict(usable, strict=False)
    return model.to(device)


def log_message(run_dir: Path, text: str) -> None:
    """Print and append to run.log (the run folder keeps a plain-text history)."""
    print(text, flush=True)
    with (run_dir / "run.log").open("a") as handle:
        handle.write(text + "\n")


def train_command(config_path: Path | None) -> str:
    return "python -m training " + " ".join(sys.argv[1:]) if config_path else ""


def train_model(
    config: TrainingConfig, config_path: Path | None = None, resume: bool = False
) -> dict[str, Any]:
    """Train per ``config``; returns the summary also written to ``summary.json``.

    Side effects: creates the run folder, writes logs/checkpoints/curves there. With ``resume``
    continues from ``last.pt`` of the same run folder (optimizer and schedule included).
    """
    run_dir = config.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    if config_path is not None and not resume:
        shutil.copyfile(config_path, run_dir / "config.toml")
    gen = seed_everything(config.run.seed)
    device = pick_device(config.train.threads)
    train_ds, val_ds = load_split(config, "train"), load_split(config, "val")
    log_message(run_dir, f"train {len(train_ds)}: {describe_counts(train_ds.labels)}")
    log_message(run_dir, f"val {len(val_ds)}: {describe_counts(val_ds.labels)}")
    model = prepare_model(config, device)
    shape = (config.preprocessing.channels, config.preprocessing.size, config.preprocessing.size)
    size = {"macs": count_macs(model, shape), "params": count_params(model)}
    log_message(
        run_dir,
        f"model {config.model.family} w={config.model.width}: "
        f"{size['macs'] / 1e6:.1f} MMACs, {size['params'] / 1e6:.2f} M params",
    )
    state = initial_state(config, model, train_ds.labels, gen, device)
    if resume:
        restore_state(run_dir / "last.pt", model, state)
        if hasattr(state["sched"], "replan"):  # the epoch cap may have been raised
            state["sched"].replan(config.train.epochs * state["steps"])
    state["command"] = train_command(config_path)
    data = (as_tensors(train_ds), as_tensors(val_ds))
    return run_epochs(config, model, data, state, size)


def initial_state(
    config: TrainingConfig,
    model: nn.Module,
    labels: np.ndarray,
    gen: torch.Generator,
    device: torch.device,
) -> dict[str, Any]:
    """Optimiser, schedule, loss weights, sampler and loop counters of a fresh run."""
    t = config.train
    steps = (len(labels) + t.batch_size - 1) // t.batch_size
    sampler = None
    if t.balanced_sampler:
        sampler = class_weights(labels, "inverse")[torch.from_numpy(labels)]
    opt = make_optimizer(model, config)
    weights = class_weights(labels, t.class_weighting)
    counts = np.bincount(labels, minlength=len(CANONICAL_CLASSES))
    return {
        "gen": gen,
        "device": device,
        "weights": weights.to(device),
        # Reported in summary.json next to the per-class val figures of the best epoch.
        "imbalance": {
            "train_class_counts": dict(zip(CANONICAL_CLASSES, counts.tolist(), strict=True)),
            "class_weighting": t.class_weighting,
            "class_weights": {
                c: round(float(w), 4) for c, w in zip(CANONICAL_CLASSES, weights, strict=True)
            },
            "balanced_sampler": t.balanced_sampler,
        },
        "sampler": sampler,
        "opt": opt,
        "sched": make_scheduler(opt, config, steps),
        "steps": steps,
        "epoch": 1,
        "best": None,
        "best_epoch": 0,
        "best_val_loss": None,
        "best_per_class": None,
        "stale": 0,
        "started": time.time(),
        "elapsed_before": 0.0,
    }


def restore_state(path: Path, model: nn.Module, state: dict[str, Any]) -> None:
    payload = read_checkpoint(path)
    model.load_state_dict(payload["state_dict"])
    state["opt"].load_state_dict(payload["optimizer"])
    state["sched"].load_state_dict(payload["scheduler"])
    state["gen"].set_state(payload["generator"])
    for key in ("epoch", "best", "best_epoch", "best_val_loss", "stale", "elapsed_before"):
        state[key] = payload["loop"][key]
    state["best_per_class"] = payload["loop"].get("best_per_class")  # older checkpoints: none


def run_epochs(
    config: TrainingConfig,
    model: nn.Module,
    data: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    state: dict[str, Any],
    size: dict[str, int],
) -> dict[str, Any]:
    """Epoch loop with early stopping on val loss and an optional wall-clock budget."""
    run_dir, t = config.run_dir, config.train
    stop_reason = "epoch cap"
    epoch_times: list[float] = []
    planned = t.epochs
    while state["epoch"] <= planned:
        tic = time.time()
        result = train_epoch(model, data[0], config, state)
        row = {
            "epoch": state["epoch"],
            "train_loss": result.loss,
            "train_accuracy": result.accuracy,
        }
        scores, per_class = validate(model, data[1], state["device"])
        row |= scores
        if t.schedule == "plateau":
            state["sched"].step(row["val_loss"])
        row |= {"lr": state["opt"].param_groups[0]["lr"], "seconds": time.time() - tic}
        epoch_times.append(row["seconds"])
        record_epoch(config, model, state, row, per_class)
        log_message(run_dir, " ".join(f"{k}={v:.4g}" for k, v in row.items()))
        log_message(run_dir, describe_recalls(per_class))
        state["epoch"] += 1
        if state["stale"] >= t.early_stopping_patience:
            stop_reason = f"early stopping: val loss not lower for {state['stale']} epochs"
            break
        elapsed = state["elapsed_before"] + time.time() - state["started"]
        # Plan with the slowest recent epoch: the CPU is shared and epochs vary in length.
        recent = max(epoch_times[-3:])
        done = state["epoch"] - 1
        planned = plan_epochs(t.epochs, done, elapsed, recent, t.max_minutes * 60)
        if t.max_minutes and hasattr(state["sched"], "replan"):
            state["sched"].replan(planned * state["steps"])
        if planned < t.epochs:
            stop_reason = f"time budget of {t.max_minutes} minutes ({planned} epochs fit)"
    return finish_run(config, state, stop_reason, epoch_times, size)


def record_epoch(
    config: TrainingConfig,
    model: nn.Module,
    state: dict[str, Any],
    row: dict[str, float],
    per_class: dict[str, dict[str, float]],
) -> None:
    """Log the row, update best/early-stopping state and write last.pt (and best.pt)."""
    run_dir = config.run_dir
    append_log(run_dir / "log.csv", row)
    render_curves(run_dir / "log.csv", run_dir / "curves.png")
    metric = config.train.select_metric
    if is_better(metric, row[metric], state["best"]):
        state["best"], state["best_epoch"] = row[metric], state["epoch"]
        state["best_per_class"] = per_class
        save_checkpoint(
            run_dir / "best.pt", model, config, {"epoch": state["epoch"], "metrics": row}
        )
    if is_better("val_loss", row["val_loss"], state["best_val_loss"]):
        state["best_val_loss"], state["stale"] = row["val_loss"], 0
    else:
        state["stale"] += 1
    loop = {k: state[k] for k in ("best", "best_epoch", "best_val_loss", "best_per_class", "stale")}
    loop["epoch"] = state["epoch"] + 1
    loop["elapsed_before"] = state["elapsed_before"] + time.time() - state["started"]
    extra = {
        "epoch": state["epoch"],
        "metrics": row,
        "optimizer": state["opt"].state_dict(),
        "scheduler": state["sched"].state_dict(),
        "generator": state["gen"].get_state(),
        "loop": loop,
    }
    save_checkpoint(run_dir / "last.pt", model, config, extra)


def finish_run(
    config: TrainingConfig,
    state: dict[str, Any],
    reason: str,
    epoch_times: list[float],
    size: dict[str, int],
) -> dict[str, Any]:
    summary = {
        "run": config.run.name,
        "command": state.get("command", ""),
        "seed": config.run.seed,
        "stop_reason": reason,
        "epochs_run": state["epoch"] - 1,
        "best_epoch": state["best_epoch"],
        "select_metric": config.train.select_metric,
        "best_value": state["best"],
        "mean_epoch_seconds": sum(epoch_times) / max(len(epoch_times), 1),
        "train_seconds": state["elapsed_before"] + time.time() - state["started"],
        "macs": size["macs"],
        "params": size["params"],
        "device": str(state["device"]),
        "torch": torch.__version__,
        **state["imbalance"],
        "val_per_class_at_best_epoch": state["best_per_class"],
    }
    (config.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log_message(config.run_dir, f"done: {json.dumps(summary)}")
    return summary
