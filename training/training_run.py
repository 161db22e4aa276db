"""``python -m training train``: one training run from a config, interruption-safe.

A run folder ``<runs dir>/<name>/`` (``[run] output_dir``, else $WELLBEING_RUNS_DIR, else
~/.cache/wellbeing/runs) holds ``log.csv`` (per epoch), ``batches.csv`` (per optimiser step),
``curves.png``, ``run.log``, ``config.toml`` (copy), ``best.pt``, ``summary.json`` and
``checkpoints/`` with the newest two resume checkpoints (``last.pt`` links the newest), and with
``[train] average_from_epoch`` ``averaged.pt`` (training.weight_averaging). A resume
checkpoint is written at every epoch end, at least every ``[run] checkpoint_minutes`` inside an
epoch, and when SIGTERM/SIGINT arrives; ``--resume`` replays the rest of the run exactly.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inference.model_manifest import CANONICAL_CLASSES
from training.checkpoint_store import (
    CheckpointClock,
    find_resume_point,
    list_checkpoints,
    write_checkpoint,
)
from training.checkpoints import load_model, read_weights, save_checkpoint
from training.dataset_loaders import FaceDataset, describe_counts
from training.distillation import check_same_teacher, load_teacher
from training.errors import CheckpointError, TrainingError
from training.face_recognition_transfer import FAMILY as FACE_RECOGNITION
from training.face_recognition_transfer import check_preprocessing
from training.face_size_evaluation import describe_face_sizes, evaluate_face_sizes, shrink_inputs
from training.lr_schedules import plan_epochs
from training.model_predictors import torch_predictor
from training.model_zoo import build_model, count_macs, count_params
from training.resume_guard import check_resumable, fingerprint_split
from training.run_logs import BatchLog, keep_rows, log_message
from training.training_config import TrainingConfig
from training.training_curves import render_curves
from training.training_loop import (
    EpochProgress,
    append_log,
    as_tensors,
    capture_rng,
    class_weights,
    describe_recalls,
    is_better,
    load_split,
    make_optimizer,
    make_scheduler,
    pick_device,
    restore_rng,
    seed_everything,
    split_sources,
    train_epoch,
    validate,
)
from training.weight_averaging import WeightAverage, averaged_model, recompute_batchnorm


def prepare_model(config: TrainingConfig, device: torch.device) -> nn.Module:
    """Build the configured model; start from ``model.pretrained`` weights when given."""
    m = config.model
    if m.family == FACE_RECOGNITION:
        check_preprocessing(config.preprocessing)
    model = build_model(m.family, config.preprocessing.channels, m.width, m.dropout)
    if m.pretrained:
        weights = read_weights(Path(m.pretrained))
        own = model.state_dict()
        # Transfer learning: take every tensor whose name and shape match (the head may differ).
        usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
        if not usable:
            raise CheckpointError(f"{m.pretrained} shares no weights with a {m.family} model")
        model.load_state_dict(usable, strict=False)
    # Channels-last: see training_loop.in_training_layout (the inputs are converted there).
    # Module.to's type stubs omit the memory_format keyword that it accepts at run time.
    return model.to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def train_command(config_path: Path | None) -> str:
    return "python -m training " + " ".join(sys.argv[1:]) if config_path else ""


class RunInterrupted(TrainingError):
    """SIGTERM/SIGINT arrived; a checkpoint was written and the run can be resumed."""


AfterBatch = Callable[[int, float], None]


def train_model(
    config: TrainingConfig,
    config_path: Path | None = None,
    resume: bool = False,
    allow_changed: Iterable[str] = (),
    after_batch: AfterBatch | None = None,
) -> dict[str, Any]:
    """Train per ``config``; returns the summary also written to ``summary.json``.

    Side effects: creates the run folder and writes logs, checkpoints and curves there. A fresh
    run refuses a folder that already holds checkpoints. With ``resume`` it continues from the
    newest checkpoint that verifies (see training.checkpoint_store) after checking that config
    and data are the checkpoint's (training.resume_guard; ``allow_changed`` names config keys
    that may differ). ``after_batch(step, loss)`` is called after every optimiser step.
    """
    run_dir = config.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        start_fresh_folder(run_dir)
        if config_path is not None:
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
    attach_teacher(config, state)
    state["data"] = {
        split: fingerprint_split([path for path, _ in split_sources(config, split)], ds.labels)
        for split, ds in (("train", train_ds), ("val", val_ds))
    }
    if resume:
        resume_run(config, model, state, allow_changed)
    state["command"] = train_command(config_path)
    data = (*as_tensors(train_ds), *as_tensors(val_ds), monitor_inputs(config, val_ds.inputs))
    with interrupt_requests(state):
        summary = run_epochs(config, model, data, state, size, after_batch)
    return finish_run(config, state, summary, val_ds)


def attach_teacher(config: TrainingConfig, state: dict[str, Any]) -> None:
    """Load the [distillation] teacher into ``state`` (None when off) with its file's sha256."""
    d = config.distillation
    state["teacher"], state["teacher_sha256"] = None, None
    if d.teacher and d.weight > 0:
        state["teacher"], state["teacher_sha256"] = load_teacher(d.teacher, config.preprocessing)
        log_message(
            config.run_dir,
            f"teacher {d.teacher} (sha256 {state['teacher_sha256'][:12]}): weight {d.weight}, "
            f"temperature {d.temperature}",
        )


def start_fresh_folder(run_dir: Path) -> None:
    """Refuse a folder with checkpoints (a run to resume or to delete); clear stale logs."""
    if list_checkpoints(run_dir):
        raise CheckpointError(
            f"{run_dir} already holds checkpoints of a run: pass --resume to continue it, or "
            "choose another [run] name (or delete the folder) to start over"
        )
    for name in ("log.csv", "batches.csv", "summary.json"):
        (run_dir / name).unlink(missing_ok=True)


def monitor_inputs(config: TrainingConfig, val_inputs: np.ndarray) -> torch.Tensor | None:
    """Val inputs shrunk to ``monitor_face_px`` (logged each epoch), or None when off."""
    px = config.train.monitor_face_px
    if not px:
        return None
    return torch.from_numpy(shrink_inputs(val_inputs, config.preprocessing, px))


def resume_run(
    config: TrainingConfig, model: nn.Module, state: dict[str, Any], allow: Iterable[str]
) -> None:
    """Load the newest good checkpoint into model and state; cut the logs back to it."""
    run_dir = config.run_dir
    point = find_resume_point(run_dir, lambda text: log_message(run_dir, text))
    check_resumable(point.payload, config.raw, state["data"], allow)
    if state["teacher"] is not None:
        teacher_sha = point.payload.get("teacher_sha256")
        check_same_teacher(teacher_sha, state["teacher_sha256"], config.distillation.teacher)
    restore_state(point.payload, model, state)
    if hasattr(state["sched"], "replan"):  # the epoch cap may have been raised
        state["sched"].replan(config.train.epochs * state["steps"])
    dropped = keep_rows(run_dir / "batches.csv", "step", state["step"])
    keep_rows(run_dir / "log.csv", "epoch", state["epoch"] - 1)
    progress = state["progress"]
    where = f"batch {progress.next_batch}" if progress else "its start"
    log_message(
        run_dir,
        f"resumed from {point.path.name}: epoch {state['epoch']} at {where}, step "
        f"{state['step']} ({dropped} logged batches after it will be replayed)",
    )


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
        "step": 0,
        "progress": None,
        "average": WeightAverage(),
        "stop_signal": None,
        **{k: v for k, v in LOOP_DEFAULTS.items()},
        "started": time.time(),
        "cpu_started": time.process_time(),
    }


LOOP_DEFAULTS: dict[str, Any] = {
    "epoch": 1,
    "best": None,
    "best_epoch": 0,
    "best_val_loss": None,
    "best_per_class": None,
    "stale": 0,
    "elapsed_before": 0.0,
    "cpu_before": 0.0,  # CPU seconds of this process's predecessors (checkpoints before: 0)
}


def restore_state(payload: dict[str, Any], model: nn.Module, state: dict[str, Any]) -> None:
    """Model, optimiser, schedule, generator, global RNGs, loop counters and epoch position."""
    model.load_state_dict(payload["state_dict"])
    state["opt"].load_state_dict(payload["optimizer"])
    state["sched"].load_state_dict(payload["scheduler"])
    state["gen"].set_state(payload["generator"])
    restore_rng(payload["rng"])
    for key in (*LOOP_DEFAULTS, "step"):
        state[key] = payload["loop"].get(key, LOOP_DEFAULTS.get(key))
    state["progress"] = EpochProgress.from_dict(payload["progress"])
    state["average"] = WeightAverage.from_dict(payload.get("average"))


def cpu_seconds(state: dict[str, Any]) -> float:
    """CPU seconds of the training so far, summed over the processes that resumed it (each
    counted from its model setup on, so data loading is left out)."""
    return float(state["cpu_before"] + time.process_time() - state["cpu_started"])


def save_resume_checkpoint(config: TrainingConfig, model: nn.Module, state: dict[str, Any]) -> Path:
    """Everything needed to continue exactly from here (see checkpoint_store)."""
    loop = {k: state[k] for k in (*LOOP_DEFAULTS, "step")}
    loop["elapsed_before"] = state["elapsed_before"] + time.time() - state["started"]
    loop["cpu_before"] = cpu_seconds(state)
    progress = state["progress"]
    payload = {
        "state_dict": model.state_dict(),
        "model": asdict(config.model),
        "preprocessing": asdict(config.preprocessing),
        "config": config.raw,
        "epoch": state["epoch"],
        "optimizer": state["opt"].state_dict(),
        "scheduler": state["sched"].state_dict(),
        "generator": state["gen"].get_state(),
        "rng": capture_rng(),
        "progress": progress.to_dict() if progress else None,
        "average": state["average"].to_dict(),
        "loop": loop,
        "data": state["data"],
        "teacher_sha256": state.get("teacher_sha256"),
    }
    return write_checkpoint(config.run_dir, state["step"], payload)


@contextmanager
def interrupt_requests(state: dict[str, Any]) -> Iterator[None]:
    """While training, SIGTERM/SIGINT only set ``state["stop_signal"]``; the loop then saves a
    checkpoint after the current batch and stops (RunInterrupted). Off the main thread: no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request(signum: int, _frame: Any) -> None:
        state["stop_signal"] = signal.Signals(signum).name

    previous = {s: signal.signal(s, request) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def batch_hook(
    config: TrainingConfig,
    model: nn.Module,
    state: dict[str, Any],
    hook: AfterBatch | None,
    clock: CheckpointClock,
) -> tuple[Callable[[float], None], BatchLog]:
    """The per-batch callback: batch log, time-based checkpoint, interrupt, user hook."""
    log = BatchLog(config.run_dir / "batches.csv")

    def after(loss: float) -> None:
        lr = state["opt"].param_groups[0]["lr"]
        log.write(state["epoch"], state["progress"].next_batch, state["step"], loss, lr)
        if state["stop_signal"] or clock.due():
            save_resume_checkpoint(config, model, state)
            clock.saved()
        if state["stop_signal"]:
            raise RunInterrupted(
                f"stopped by {state['stop_signal']} at step {state['step']} (checkpoint "
                f"written); continue with the same command and --resume"
            )
        if hook is not None:
            hook(state["step"], loss)

    return after, log


def run_epochs(
    config: TrainingConfig,
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None],
    state: dict[str, Any],
    size: dict[str, int],
    hook: AfterBatch | None = None,
) -> dict[str, Any]:
    """Epoch loop with early stopping on val loss and an optional wall-clock budget; writes a
    resume checkpoint at every epoch end and (batch_hook) at least every checkpoint_minutes.
    """
    run_dir, t = config.run_dir, config.train
    train, val, small = (data[0], data[1]), (data[2], data[3]), data[4]
    stop_reason = "epoch cap"
    epoch_times: list[float] = []
    planned = t.epochs
    clock = CheckpointClock(config.run.checkpoint_minutes * 60.0)
    after, batch_log = batch_hook(config, model, state, hook, clock)
    try:
        while state["epoch"] <= planned:
            if state["stale"] >= t.early_stopping_patience:
                stop_reason = f"early stopping: val loss not lower for {state['stale']} epochs"
                break
            tic = time.time()
            result = train_epoch(model, train, config, state, after)
            row = {"epoch": state["epoch"], "train_loss": result.loss}
            row["train_accuracy"] = result.accuracy
            scores, per_class = validate(model, val, state["device"], small)
            row |= scores
            if t.schedule == "plateau":
                state["sched"].step(row["val_loss"])
            row |= {"lr": state["opt"].param_groups[0]["lr"], "seconds": time.time() - tic}
            epoch_times.append(row["seconds"])
            record_epoch(config, model, state, row, per_class)
            log_message(run_dir, " ".join(f"{k}={v:.4g}" for k, v in row.items()))
            log_message(run_dir, describe_recalls(per_class))
            if t.average_from_epoch and state["epoch"] >= t.average_from_epoch:
                record_average(config, model, state, train[0], val, small)
            state["epoch"] += 1
            elapsed = state["elapsed_before"] + time.time() - state["started"]
            # Plan with the slowest recent epoch: the CPU is shared and epochs vary in length.
            recent = max(epoch_times[-3:])
            done = state["epoch"] - 1
            planned = min(planned, plan_epochs(t.epochs, done, elapsed, recent, t.max_minutes * 60))
            if t.max_minutes and hasattr(state["sched"], "shorten"):
                state["sched"].shorten(planned * state["steps"])
            if planned < t.epochs:
                stop_reason = f"time budget of {t.max_minutes} minutes ({planned} epochs fit)"
            save_resume_checkpoint(config, model, state)
            clock.saved()  # the next time-based checkpoint is due an interval after this one
    finally:
        batch_log.close()
    return {"stop_reason": stop_reason, "epoch_times": epoch_times, **size}


def record_epoch(
    config: TrainingConfig,
    model: nn.Module,
    state: dict[str, Any],
    row: dict[str, float],
    per_class: dict[str, dict[str, float]],
) -> None:
    """Log the row, update best/early-stopping state and write best.pt when it improved."""
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


def record_average(
    config: TrainingConfig,
    model: nn.Module,
    state: dict[str, Any],
    train_inputs: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor],
    small: torch.Tensor | None,
) -> None:
    """Fold this epoch's weights into the running mean and write the averaged network, its
    batch-norm statistics measured on the training faces, to averaged.pt with its val scores.
    ``model`` is left as it was (the average lives in a copy)."""
    average = state["average"]
    average.add(model, state["epoch"])
    twin = averaged_model(model, average)
    recompute_batchnorm(twin, train_inputs, state["device"])
    scores, _ = validate(twin, val, state["device"], small)
    epochs = [average.first_epoch, average.last_epoch]
    extra = {"epoch": state["epoch"], "metrics": scores, "averaged_epochs": epochs}
    save_checkpoint(config.run_dir / "averaged.pt", twin, config, extra)
    log_message(
        config.run_dir,
        f"averaged weights of epochs {epochs[0]}-{epochs[1]} ({average.count}): "
        + " ".join(f"{k}={v:.4g}" for k, v in scores.items()),
    )


def finish_run(
    config: TrainingConfig, state: dict[str, Any], loop: dict[str, Any], val: FaceDataset
) -> dict[str, Any]:
    """Write summary.json (with the best checkpoint's val accuracy by face size); return it."""
    epoch_times = loop["epoch_times"]
    by_face = None
    if (config.run_dir / "best.pt").is_file():
        module, spec, _ = load_model(config.run_dir / "best.pt")
        by_face = evaluate_face_sizes(torch_predictor(module), val.inputs, val.labels, spec)
        log_message(config.run_dir, f"best.pt on val, {describe_face_sizes(by_face)}")
    averaged = None
    if state["average"].count:
        module, spec, _ = load_model(config.run_dir / "averaged.pt")
        averaged = evaluate_face_sizes(torch_predictor(module), val.inputs, val.labels, spec)
        log_message(config.run_dir, f"averaged.pt on val, {describe_face_sizes(averaged)}")
    summary = {
        "run": config.run.name,
        "command": state.get("command", ""),
        "seed": config.run.seed,
        "stop_reason": loop["stop_reason"],
        "epochs_run": state["epoch"] - 1,
        "steps": state["step"],
        "best_epoch": state["best_epoch"],
        "select_metric": config.train.select_metric,
        "best_value": state["best"],
        "val_by_face_px_at_best_epoch": by_face,
        "averaged_epochs": [state["average"].first_epoch, state["average"].last_epoch]
        if state["average"].count
        else None,
        "val_by_face_px_averaged": averaged,
        "mean_epoch_seconds": sum(epoch_times) / max(len(epoch_times), 1),
        "train_seconds": state["elapsed_before"] + time.time() - state["started"],
        "cpu_seconds": cpu_seconds(state),
        "macs": loop["macs"],
        "params": loop["params"],
        "device": str(state["device"]),
        "torch": torch.__version__,
        "data": state["data"],
        "teacher_sha256": state.get("teacher_sha256"),
        **state["imbalance"],
        "val_per_class_at_best_epoch": state["best_per_class"],
    }
    (config.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log_message(config.run_dir, f"done: {json.dumps(summary)}")
    return summary
