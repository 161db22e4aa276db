"""Training configs: a TOML file parsed into frozen dataclasses, with clear errors.

See ``training/configs/*.toml`` for one config per model family and docs/training.md for every
setting. Relative paths in a config are resolved against the current working directory (the
repository root when run as documented).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from inference.model_manifest import Preprocessing
from training.augmentation import AugmentationConfig
from training.errors import ConfigError


@dataclass(frozen=True)
class RunSection:
    name: str = "run"
    seed: int = 1337
    # Where run folders go; empty: $WELLBEING_RUNS_DIR, else ~/.cache/wellbeing/runs (outside
    # the repository, so checkpoints survive a fresh checkout and are never committed).
    output_dir: str = ""
    checkpoint_minutes: float = 10.0  # resume checkpoint at least this often, and every epoch


@dataclass(frozen=True)
class DataSection:
    format: str = "fer-folder"
    train: str = ".data/fer2013/train"
    val: str = ".data/fer2013/val"
    train_split: str = "Training"  # Usage value for fer-csv, split prefix for RAF-DB lists
    val_split: str = "PublicTest"
    limit: int = 0  # use a random subset of this many images per split (0 = all; for smoke runs)
    # More training data of the same format, e.g. [".data/fer2013/val"] for the final fit on
    # train+val once a recipe is fixed ("path#split" picks the split of a fer-csv file).
    train_extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSection:
    family: str = "resnet"
    width: float = 1.0
    dropout: float = 0.3
    # Optional local weights to start from (transfer learning): a checkpoint of this pipeline or
    # a plain state_dict .pt file; tensors whose names and shapes match are loaded.
    pretrained: str = ""


@dataclass(frozen=True)
class TrainSection:
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "adamw"  # adamw | adam | sgd
    lr: float = 3e-3
    weight_decay: float = 0.05
    momentum: float = 0.9
    schedule: str = "onecycle"  # onecycle | cosine | constant | plateau
    label_smoothing: float = 0.1
    class_weighting: str = "sqrt-inverse"  # none | inverse | sqrt-inverse
    balanced_sampler: bool = False
    early_stopping_patience: int = 10  # epochs without a lower val loss
    select_metric: str = "val_accuracy"  # which epoch becomes best.pt: val_accuracy | val_loss
    threads: int = 2
    max_minutes: float = 0.0  # stop before an epoch would end past this budget (0 = none)
    monitor_face_px: int = 0  # also log val accuracy on faces shrunk to this size (0 = off)
    # Keep the mean of the weights of every epoch from this one on and write it, batch-norm
    # statistics measured afresh, as averaged.pt (training.weight_averaging; 0 = off).
    average_from_epoch: int = 0
    # Sharpness-aware minimisation: the radius of the weight neighbourhood each step's gradient
    # is taken at the worst point of (training.sharpness_aware; 0 = off, 0.05 is the usual
    # value). Each step then costs two forward and backward passes.
    sam_rho: float = 0.0


@dataclass(frozen=True)
class DistillationSection:
    """Knowledge distillation from a registered ONNX model (training.distillation).

    ``teacher`` names a model of the models directory (an ensemble, typically) whose
    preprocessing equals the run's; empty: off. The loss becomes ``(1 - weight) * hard +
    weight * T^2 * KL(teacher_T || student_T)``, the teacher scoring the same augmented (and
    mixed) batch the student sees.
    """

    teacher: str = ""
    weight: float = 0.0
    temperature: float = 1.0


@dataclass(frozen=True)
class TrainingConfig:
    run: RunSection = field(default_factory=RunSection)
    data: DataSection = field(default_factory=DataSection)
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    distillation: DistillationSection = field(default_factory=DistillationSection)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return runs_root(self.run.output_dir) / self.run.name


def runs_root(output_dir: str = "") -> Path:
    """``output_dir`` when set, else $WELLBEING_RUNS_DIR, else ~/.cache/wellbeing/runs."""
    if output_dir:
        return Path(output_dir).expanduser()
    env = os.environ.get("WELLBEING_RUNS_DIR", "")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wellbeing" / "runs"


SECTIONS: dict[str, type] = {
    "run": RunSection,
    "data": DataSection,
    "preprocessing": Preprocessing,
    "model": ModelSection,
    "train": TrainSection,
    "augmentation": AugmentationConfig,
    "distillation": DistillationSection,
}
CHOICES = {
    ("train", "optimizer"): ("adamw", "adam", "sgd"),
    ("train", "schedule"): ("onecycle", "cosine", "constant", "plateau"),
    ("train", "class_weighting"): ("none", "inverse", "sqrt-inverse"),
    ("train", "select_metric"): ("val_accuracy", "val_loss"),
    ("preprocessing", "color"): ("gray", "rgb"),
    ("preprocessing", "layout"): ("NCHW",),
}
TUPLE_KEYS = {"mean", "std", "erase_area", "small_face_sizes", "train_extra"}


def build_section(name: str, values: Any) -> Any:
    """Instantiate section ``name`` from its TOML table; ConfigError on unknown/invalid keys."""
    cls = SECTIONS[name]
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"[{name}] has unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    for key, value in values.items():
        allowed = CHOICES.get((name, key))
        if allowed and value not in allowed:
            raise ConfigError(f"[{name}] {key} = {value!r}; choose from {allowed}")
    converted = {k: tuple(v) if k in TUPLE_KEYS else v for k, v in values.items()}
    try:
        return cls(**converted)
    except TypeError as exc:
        raise ConfigError(f"[{name}]: {exc}") from exc


def parse_config(data: dict[str, Any]) -> TrainingConfig:
    """Build a TrainingConfig from a parsed TOML document."""
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; known: {sorted(SECTIONS)}")
    sections = {name: build_section(name, data.get(name, {})) for name in SECTIONS}
    config = TrainingConfig(**sections, raw=data)
    if config.train.epochs < 1 or config.train.batch_size < 1:
        raise ConfigError("[train] epochs and batch_size must be >= 1")
    if not 0 <= config.train.average_from_epoch <= config.train.epochs:
        raise ConfigError(
            f"[train] average_from_epoch must be 0 (off) or an epoch of the run (1.."
            f"{config.train.epochs}), not {config.train.average_from_epoch}"
        )
    if config.train.sam_rho < 0:
        raise ConfigError(f"[train] sam_rho must be >= 0 (0: off), not {config.train.sam_rho}")
    low, high = config.augmentation.small_face_sizes
    if not 4 <= low <= high:
        raise ConfigError("[augmentation] small_face_sizes must be [low, high], 4 <= low <= high")
    check_distillation(config.distillation)
    if config.run.checkpoint_minutes < 0:
        raise ConfigError("[run] checkpoint_minutes must be >= 0 (0: after every batch)")
    return config


def check_distillation(d: DistillationSection) -> None:
    if not 0.0 <= d.weight <= 1.0 or d.temperature <= 0:
        raise ConfigError("[distillation] weight must be in [0, 1] and temperature > 0")
    if d.weight > 0 and not d.teacher:
        raise ConfigError("[distillation] weight > 0 needs a teacher (a registered model name)")


def load_config(path: Path) -> TrainingConfig:
    """Read and validate a TOML config; raises ConfigError with the file name on any problem."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
