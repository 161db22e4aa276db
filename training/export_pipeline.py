"""``python -m training export``: checkpoint -> registered model folder with manifest and card.

Steps: export ONNX (softmax appended), parity check on real val images (<= 1e-4), evaluate the
ONNX file on val with the shared metrics (and PyTorch with TTA for comparison), measure
one-thread latency, optionally quantize to INT8 and compare, then write manifest.json and
MODEL_CARD.md. Never touches registry.json: activating a model is a separate, human decision.
"""

from __future__ import annotations

import json
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference.model_manifest import CANONICAL_CLASSES, ModelManifest, Preprocessing, sha256_file
from training.checkpoints import load_model
from training.dataset_loaders import FaceDataset
from training.errors import ExportError
from training.face_size_evaluation import evaluate_face_sizes
from training.model_card import LICENCE, averaged_epochs, extra_training_data, write_model_files
from training.model_evaluation import evaluate_model
from training.model_predictors import onnx_predictor, torch_predictor
from training.model_zoo import count_macs, count_params
from training.onnx_export import check_parity, export_onnx, measure_latency, quantize_int8
from training.training_config import TrainingConfig, parse_config
from training.training_loop import load_split

MAX_MODEL_BYTES = 20 * 1024 * 1024  # issue 13: model files <= 20 MB
PARITY_IMAGES = 512
CALIBRATION_IMAGES = 512


def pick_rows(ds: FaceDataset, count: int, seed: int) -> np.ndarray:
    """A fixed random subset of a dataset's inputs (for parity checks and calibration)."""
    idx = np.sort(np.random.default_rng(seed).permutation(len(ds))[:count])
    return np.ascontiguousarray(ds.inputs[idx])


def cpu_name() -> str:
    """The CPU model (for latency figures), from /proc/cpuinfo where available."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def quantize_and_compare(
    onnx_path: Path,
    int8_path: Path,
    val: FaceDataset,
    calibration: np.ndarray,
    fp32: dict[str, Any],
) -> dict[str, Any]:
    """Quantize ``onnx_path`` to ``int8_path`` and report INT8 accuracy change and speed-up."""
    quantize_int8(onnx_path, int8_path, calibration)
    shape = (val.inputs.shape[1], val.inputs.shape[2], val.inputs.shape[3])
    metrics = evaluate_model(onnx_predictor(int8_path, CANONICAL_CLASSES), val.inputs, val.labels)
    latency = measure_latency(int8_path, shape)
    acc = metrics["tta_off"]["accuracy"]
    return {
        "path": str(int8_path),
        "bytes": int8_path.stat().st_size,
        "accuracy": acc,
        "accuracy_change": acc - fp32["accuracy"],
        "macro_f1": metrics["tta_off"]["macro_f1"],
        "ms_per_face": latency["ms_per_face"],
        "speedup": fp32["latency"]["ms_per_face"] / latency["ms_per_face"],
        "shipped": False,
    }


def export_checkpoint(
    checkpoint: Path,
    name: str,
    models_dir: Path,
    quantize: bool = False,
    ship_int8: bool = False,
    export_command: str = "",
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """Export ``checkpoint`` as model ``name`` into ``models_dir/name``; returns the report.

    Raises ExportError when parity fails or the ONNX file exceeds 20 MB.
    """
    model, spec, payload = load_model(checkpoint)
    config = parse_config(payload["config"])
    val = load_split(config, "val")
    folder = models_dir / name
    onnx_path = folder / "model.onnx"
    shape = (spec.channels, spec.size, spec.size)
    export_onnx(model, shape, onnx_path)
    if onnx_path.stat().st_size > MAX_MODEL_BYTES:
        raise ExportError(f"{onnx_path} is {onnx_path.stat().st_size} bytes, over 20 MB")
    parity = check_parity(model, onnx_path, pick_rows(val, PARITY_IMAGES, config.run.seed))
    evaluation = evaluate_export(model, onnx_path, val, spec, checkpoint.parent, name)
    quant = None
    if quantize:
        # The INT8 file stays in the run folder unless shipped: the models folder holds only
        # what the engine loads.
        int8_path = checkpoint.parent / f"{name}.int8.onnx"
        quant = quantize_export(onnx_path, int8_path, config, val, evaluation, ship_int8)
    manifest = build_manifest(name, onnx_path, spec, evaluation, payload, checkpoint)
    manifest.training.update(
        parity_max_abs_diff=parity,
        parity_images=PARITY_IMAGES,
        quantization=quant,
        export_command=export_command or f"python -m training export {checkpoint} --name {name}",
        macs=count_macs(model, shape),
        params=count_params(model),
        notes=list(notes or []),
    )
    write_model_files(manifest, folder)
    return {
        "model_dir": str(folder),
        "evaluation": evaluation,
        "quantization": quant,
        "parity": parity,
    }


def evaluate_export(
    model: torch.nn.Module,
    onnx_path: Path,
    val: FaceDataset,
    spec: Preprocessing,
    plots_dir: Path,
    title: str,
) -> dict[str, Any]:
    """The manifest's ``evaluation``: the ONNX file on val (also by face size), the PyTorch
    model with test-time augmentation (confusion PNGs titled ``title`` into ``plots_dir``),
    and latency."""
    predict = onnx_predictor(onnx_path, CANONICAL_CLASSES)
    onnx_eval = evaluate_model(predict, val.inputs, val.labels)
    torch_eval = evaluate_model(
        torch_predictor(model),
        val.inputs,
        val.labels,
        tta=True,
        out_dir=plots_dir,
        title=title,
    )
    evaluation = {"dataset": f"FER-2013 val ({val.source})", **onnx_eval["tta_off"]}
    evaluation["tta_on"] = summary_of(torch_eval["tta_on"])
    evaluation["latency"] = measure_latency(onnx_path, (spec.channels, spec.size, spec.size))
    evaluation["by_face_px"] = evaluate_face_sizes(predict, val.inputs, val.labels, spec)
    return evaluation


def quantize_export(
    onnx_path: Path,
    int8_path: Path,
    config: TrainingConfig,
    val: FaceDataset,
    evaluation: dict[str, Any],
    ship_int8: bool,
) -> dict[str, Any]:
    """Static INT8 form of the export, compared on val; with ``ship_int8`` it replaces
    ``onnx_path`` (the report then says so)."""
    calibration = pick_rows(load_split(config, "train"), CALIBRATION_IMAGES, config.run.seed)
    quant = quantize_and_compare(onnx_path, int8_path, val, calibration, evaluation)
    if ship_int8:
        Path(quant["path"]).replace(onnx_path)
        quant["shipped"], quant["path"] = True, str(onnx_path)
    return quant


def summary_of(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("accuracy", "macro_f1", "balanced_accuracy", "macro_roc_auc", "n")
    return {k: metrics.get(k) for k in keys}


def build_manifest(
    name: str,
    onnx_path: Path,
    spec: Preprocessing,
    evaluation: dict[str, Any],
    payload: dict[str, Any],
    checkpoint: Path,
) -> ModelManifest:
    """Manifest with the sha256 of the final file and everything needed to reproduce it."""
    summary_path = checkpoint.parent / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    raw = payload["config"]
    # A resume checkpoint (last.pt: it has a "loop") stores the epoch to run next.
    epoch = payload["epoch"] - 1 if "loop" in payload else payload.get("epoch")
    # Runs record their command in summary.json; older runs fall back to the config copy
    # that every run folder keeps, which reproduces the run exactly.
    fallback = f"python -m training train --config {checkpoint.parent / 'config.toml'}"
    training = {
        "command": summary.get("command") or fallback,
        "config": raw,
        "seed": raw.get("run", {}).get("seed"),
        "model": payload["model"],
        "checkpoint_epoch": epoch,
        # averaged.pt (training.weight_averaging): the epochs whose weights it averages.
        "averaged_epochs": payload.get("averaged_epochs"),
        # Only best.pt holds an epoch picked on val; last.pt and averaged.pt hold what a fixed
        # schedule ended with, which the card must not call a selection.
        "selected_on_val": "loop" not in payload and not payload.get("averaged_epochs"),
        "epochs_run": summary.get("epochs_run"),
        "best_epoch": summary.get("best_epoch"),
        "stop_reason": summary.get("stop_reason"),
        "train_seconds": summary.get("train_seconds", 0.0),
        "cpu_seconds": summary.get("cpu_seconds"),
        "mean_epoch_seconds": summary.get("mean_epoch_seconds", 0.0),
        "device": summary.get("device", "unknown"),
        "torch": torch.__version__,
        "git_commit": git_commit(),
        "latency_cpu": cpu_name(),
        "data": "FER-2013 (research / non-commercial distribution)",
    }
    return ModelManifest(
        name=name,
        version=f"{raw.get('run', {}).get('name', name)}-epoch{epoch}",
        classes=CANONICAL_CLASSES,
        preprocessing=spec,
        file=onnx_path.name,
        sha256=sha256_file(onnx_path),
        licence=LICENCE,
        source=f"python -m training (this repository), run {checkpoint.parent.name}",
        description=describe_training_data(payload["model"]["family"], training),
        evaluation=evaluation,
        training=training,
    )


def describe_training_data(family: str, training: dict[str, Any]) -> str:
    """The manifest's one-line description: what the model learned from, how it was picked."""
    extra = extra_training_data(training)
    span = averaged_epochs(training)
    kept = f"the mean of the weights of {span}" if span else ""
    if extra:
        return (
            f"{family} emotion model trained on FER-2013 train and {', '.join(extra)} (final "
            f"fit), {kept or 'last epoch'} of a fixed schedule; its val figures are not held out."
        )
    if kept:
        return f"{family} emotion model trained on FER-2013 train, {kept} (fixed, not selected)."
    if training.get("selected_on_val") is False:
        return (
            f"{family} emotion model trained on FER-2013 train, epoch "
            f"{training.get('checkpoint_epoch')} as the run left it (not selected on val)."
        )
    return f"{family} emotion model trained on FER-2013 train, epoch selected on FER-2013 val."


def command_line() -> str:
    return "python -m training " + " ".join(shlex.quote(a) for a in sys.argv[1:])
