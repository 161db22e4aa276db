"""The training loop: seeds, class weighting, optimiser/schedule, one resumable epoch, validation.

An epoch's batch order is drawn once (``EpochProgress``) and kept with the position inside it
and the running sums, so a checkpoint taken after any batch resumes with exactly the remaining
batches. A run writes into ``<runs dir>/<name>/`` (see training_run). It uses CUDA when
present, else ``threads`` CPU threads.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from inference.classification_metrics import compute_metrics
from inference.model_manifest import CANONICAL_CLASSES
from training.augmentation import augment_batch
from training.batch_mixing import mix_batch, mixed_loss
from training.dataset_loaders import FaceDataset, load_dataset
from training.distillation import distillation_loss
from training.lr_schedules import PlannedOneCycle
from training.sharpness_aware import sharpness_aware_backward
from training.training_config import TrainingConfig

LOG_FIELDS = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "val_macro_f1",
    "val_accuracy_small_face",
    "lr",
    "seconds",
]


@dataclass
class EpochResult:
    loss: float
    accuracy: float


@dataclass
class EpochProgress:
    """Where a run is inside an epoch: its batch order, the next batch and the running sums."""

    order: torch.Tensor
    next_batch: int = 0
    total_loss: float = 0.0
    correct: int = 0
    seen: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EpochProgress | None:
        return None if data is None else cls(**data)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; returns the generator that drives shuffling/augmentation."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # On CUDA, cuDNN would otherwise pick convolution algorithms by timing (benchmark) and some
    # are non-deterministic: the same seed would not give the same GPU run. No effect on CPU.
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)


def pick_device(threads: int) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(max(1, threads))
    return torch.device("cpu")


def class_weights(labels: np.ndarray, mode: str) -> torch.Tensor:
    """Loss weights per canonical class, mean 1 over present classes.

    "inverse" = 1/frequency, "sqrt-inverse" = 1/sqrt(frequency) (milder: helps disgust
    without flooding the rare classes with false positives), "none" = all ones.
    """
    counts = np.bincount(labels, minlength=len(CANONICAL_CLASSES)).astype(np.float64)
    if mode == "none":
        return torch.ones(len(counts), dtype=torch.float32)
    freq = np.where(counts > 0, counts / counts.sum(), np.inf)
    weights = 1.0 / freq if mode == "inverse" else 1.0 / np.sqrt(freq)
    weights = weights / weights[counts > 0].mean()
    return torch.tensor(np.where(counts > 0, weights, 0.0), dtype=torch.float32)


def make_optimizer(model: nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    t = config.train
    if t.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            t.lr,
            momentum=t.momentum,
            weight_decay=t.weight_decay,
            nesterov=True,
        )
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), t.lr, weight_decay=t.weight_decay)


def make_scheduler(opt: torch.optim.Optimizer, config: TrainingConfig, steps: int) -> Any:
    """Per-step OneCycle/cosine schedule, a constant rate after a warm-up of 5% of the steps
    (for weight averaging), or per-epoch ReduceLROnPlateau on val loss."""
    t = config.train
    if t.schedule == "constant":  # a cosine from the peak down to the peak: flat
        return PlannedOneCycle(opt, t.lr, t.epochs * steps, pct_start=0.05, final_div=1.0)
    if t.schedule in ("onecycle", "cosine"):
        warmup = 0.15 if t.schedule == "onecycle" else 0.0
        return PlannedOneCycle(opt, t.lr, t.epochs * steps, pct_start=warmup)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3)


def batch_order(n: int, gen: torch.Generator, weights: torch.Tensor | None) -> torch.Tensor:
    """One epoch's sample order: a permutation, or with ``weights`` a class-balanced sample."""
    if weights is None:
        return torch.randperm(n, generator=gen)
    return torch.multinomial(weights, n, replacement=True, generator=gen)


def in_training_layout(x: torch.Tensor) -> torch.Tensor:
    """Image batches in channels-last memory order, the layout the model is kept in during
    training (prepare_model): oneDNN's convolutions run a training step about a quarter
    faster that way on CPU than in the default NCHW order (ResNet width 0.75, batch 128, one
    thread). The values, shapes and indexing stay NCHW; only the strides differ."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def train_batch(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    config: TrainingConfig,
    state: dict[str, Any],
) -> tuple[float, int]:
    """One optimiser step on an augmented (and maybe mixed) batch: (loss, correct).

    With ``[train] sam_rho`` > 0 the step is sharpness-aware (training.sharpness_aware): the
    same batch and teacher scores go through the network twice."""
    x = augment_batch(inputs.to(state["device"]), config.augmentation, state["gen"])
    batch = mix_batch(x, labels.to(state["device"]), config.augmentation, state["gen"])
    inputs = in_training_layout(batch.inputs)
    teacher = state.get("teacher")
    teacher_logits = teacher(inputs) if teacher is not None else None

    def loss_of() -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(inputs)
        loss = mixed_loss(logits, batch, state["weights"], config.train.label_smoothing)
        if teacher_logits is not None:
            d = config.distillation
            soft = distillation_loss(logits, teacher_logits, d.temperature)
            loss = (1.0 - d.weight) * loss + d.weight * soft
        return loss, logits

    loss, logits = sharpness_aware_backward(model, loss_of, config.train.sam_rho)
    state["opt"].step()
    if config.train.schedule != "plateau":
        state["sched"].step()
    return float(loss.detach()), int((logits.argmax(1) == batch.labels).sum())


def train_epoch(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    config: TrainingConfig,
    state: dict[str, Any],
    after_batch: Callable[[float], None] | None = None,
) -> EpochResult:
    """One pass over the training set, or its rest when ``state["progress"]`` is mid-epoch.

    ``state["progress"]`` holds the epoch's order and position after every batch (what a
    checkpoint saves) and is None again once the epoch is done. ``after_batch(loss)`` runs
    after each optimiser step, with the progress already updated.
    """
    inputs, labels = data
    model.train()
    progress: EpochProgress | None = state.get("progress")
    if progress is None:
        progress = EpochProgress(batch_order(len(labels), state["gen"], state["sampler"]))
        state["progress"] = progress
    size = config.train.batch_size
    batches = [progress.order[i : i + size] for i in range(0, len(progress.order), size)]
    rest = batches[progress.next_batch :]
    desc = f"epoch {state['epoch']}"
    for idx in tqdm(rest, desc, initial=progress.next_batch, total=len(batches), mininterval=30):
        loss, correct = train_batch(model, inputs[idx], labels[idx], config, state)
        progress.next_batch += 1
        progress.total_loss += loss * len(idx)
        progress.correct += correct
        progress.seen += len(idx)
        state["step"] += 1
        if after_batch is not None:
            after_batch(loss)
    state["progress"] = None
    return EpochResult(progress.total_loss / progress.seen, progress.correct / progress.seen)


def capture_rng() -> dict[str, Any]:
    """Python, NumPy and torch global RNG states (dropout draws from torch's)."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }


def restore_rng(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


@torch.no_grad()
def predict_probs(
    model: nn.Module, inputs: torch.Tensor, device: torch.device, batch: int = 512
) -> np.ndarray:
    """Softmax probabilities (N, C) of a preprocessed input tensor, in eval mode."""
    model.eval()
    out = [
        F.softmax(model(in_training_layout(inputs[i : i + batch].to(device))), dim=1).cpu()
        for i in range(0, len(inputs), batch)
    ]
    return torch.cat(out).numpy()


def validate(
    model: nn.Module,
    val: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    small_faces: torch.Tensor | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Plain (unweighted, unsmoothed) cross-entropy, accuracy and macro-F1 on the val split,
    plus per-class precision/recall/F1 (to report what class weighting does to rare classes).
    With ``small_faces`` (the val inputs shrunk to ``monitor_face_px``) also their accuracy.
    """
    probs = predict_probs(model, val[0], device)
    y = val[1].numpy()
    loss = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())
    metrics = compute_metrics(y, probs.argmax(1), CANONICAL_CLASSES)
    small = float("nan")
    if small_faces is not None:
        small = float((predict_probs(model, small_faces, device).argmax(1) == y).mean())
    row = {
        "val_loss": loss,
        "val_accuracy": metrics["accuracy"],
        "val_macro_f1": metrics["macro_f1"],
        "val_accuracy_small_face": small,
    }
    return row, metrics["per_class"]


def describe_recalls(per_class: dict[str, dict[str, float]]) -> str:
    """'val recall angry=0.52 disgust=0.10 ...' for run.log."""
    recalls = " ".join(f"{name}={per_class[name]['recall']:.3f}" for name in CANONICAL_CLASSES)
    return f"val recall {recalls}"


def split_sources(config: TrainingConfig, which: str) -> list[tuple[Path, str]]:
    """(path, split) of every part of the "train" or "val" split (train: plus train_extra)."""
    d = config.data
    if which != "train":
        return [(Path(d.val), d.val_split)]
    sources = [(Path(d.train), d.train_split)]
    for item in d.train_extra:
        path, _, split = item.partition("#")
        sources.append((Path(path), split or d.train_split))
    return sources


def load_split(config: TrainingConfig, which: str) -> FaceDataset:
    """The "train" (with ``train_extra``) or "val" split, cut to ``limit`` images if set."""
    d = config.data
    parts = [
        load_dataset(d.format, path, split, config.preprocessing)
        for path, split in split_sources(config, which)
    ]
    ds = parts[0]
    if len(parts) > 1:
        inputs = np.concatenate([part.inputs for part in parts])
        labels = np.concatenate([part.labels for part in parts])
        ds = FaceDataset(inputs, labels, " + ".join(part.source for part in parts))
    if d.limit and d.limit < len(ds):
        keep = np.sort(np.random.default_rng(config.run.seed).permutation(len(ds))[: d.limit])
        ds = FaceDataset(ds.inputs[keep], ds.labels[keep], ds.source, ds.skipped)
    return ds


def as_tensors(ds: FaceDataset) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(ds.inputs), torch.from_numpy(ds.labels)


def append_log(path: Path, row: dict[str, float]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, float("nan")) for k in LOG_FIELDS})


def is_better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value < best if metric == "val_loss" else value > best
