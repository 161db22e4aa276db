"""Carry a training run from one machine to the next through the repository.

Here each working session starts on a fresh machine that keeps nothing outside the repository:
the runs folder (``~/.cache/wellbeing/runs``) is gone, so a run longer than a session can go on
only if its newest checkpoint travels in git. ``pack_run`` writes one file,
``training/carried-runs/<run name>.pt`` with a ``.sha256`` sidecar, holding:

- the run's newest checkpoint that verifies (training.checkpoint_store): weights, schedule,
  generator and RNG states, loop counters and epoch position unchanged; the optimiser's
  per-parameter float tensors (AdamW's moments, SGD's momentum) stored as bfloat16, which halves
  the file (16 instead of 24 MB for the 2.0 M-parameter ResNet);
- the run folder's text records (config.toml, run.log, log.csv, batches.csv), gzip-compressed.

``unpack_run`` writes it back into the run folder as a checkpoint (moments as float32 again) with
those records, so that ``train --resume`` continues the same schedule, data order and random
streams. The continuation is exact except for the moments' rounding to bfloat16 (relative error
at most 2^-9), which run.log and the checkpoint (``carried``) record. best.pt is not carried
(another 8 MB a session): the loop still knows the best epoch and value, and a better epoch
after the carry writes a new best.pt; fixed-schedule runs are judged by their last epoch.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import time
from pathlib import Path
from typing import Any

import torch

from training.checkpoint_store import (
    find_resume_point,
    list_checkpoints,
    load_verified,
    sidecar,
    write_checkpoint,
    write_synced,
)
from training.errors import CheckpointError
from training.run_logs import log_message
from training.training_config import TrainingConfig

PACK_FORMAT = "wellbeing-carried-run/1"
CARRIED_DIR = Path(__file__).resolve().parent / "carried-runs"
RECORDS = ("config.toml", "run.log", "log.csv", "batches.csv")
CARRIED_DTYPE = torch.bfloat16


def default_pack_path(run_name: str) -> Path:
    """training/carried-runs/<run name>.pt in this repository."""
    return CARRIED_DIR / f"{run_name}.pt"


def shrink_optimizer(optimizer: dict[str, Any]) -> dict[str, Any]:
    """A copy of an optimiser state_dict whose per-parameter float tensors of more than one
    element are bfloat16 (scalars such as Adam's step count stay as they are)."""
    state = {
        index: {key: to_carried(value) for key, value in slots.items()}
        for index, slots in optimizer["state"].items()
    }
    return {**optimizer, "state": state}


def to_carried(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() > 1:
        return value.to(CARRIED_DTYPE)
    return value


def restore_optimizer(optimizer: dict[str, Any]) -> dict[str, Any]:
    """The inverse of shrink_optimizer: bfloat16 tensors back to float32."""
    state = {
        index: {
            key: value.float()
            if isinstance(value, torch.Tensor) and value.dtype == CARRIED_DTYPE
            else value
            for key, value in slots.items()
        }
        for index, slots in optimizer["state"].items()
    }
    return {**optimizer, "state": state}


def read_records(run_dir: Path) -> dict[str, bytes]:
    """{file name: gzip bytes} of the run folder's text records that exist."""
    return {
        name: gzip.compress((run_dir / name).read_bytes(), mtime=0)
        for name in RECORDS
        if (run_dir / name).is_file()
    }


def pack_run(config: TrainingConfig, out: Path | None = None) -> dict[str, Any]:
    """Write the run's newest good checkpoint and its records to ``out`` (default
    training/carried-runs/<run name>.pt) with a sha256 sidecar; returns what was packed.

    Side effects: replaces ``out`` atomically (a kill leaves the previous pack intact). The run
    itself is untouched; stop it first (SIGTERM makes it checkpoint) to carry its latest step.
    """
    run_dir = config.run_dir
    point = find_resume_point(run_dir, lambda text: print(text, flush=True))
    checkpoint = {**point.payload, "optimizer": shrink_optimizer(point.payload["optimizer"])}
    packed = {
        "format": PACK_FORMAT,
        "run": config.run.name,
        "step": int(point.payload["loop"]["step"]),
        "epoch": int(point.payload["epoch"]),
        "packed_from": point.path.name,
        "packed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "optimizer_dtype": str(CARRIED_DTYPE).removeprefix("torch."),
        "checkpoint": checkpoint,
        "records": read_records(run_dir),
    }
    buffer = io.BytesIO()
    torch.save(packed, buffer)
    data = buffer.getvalue()
    target = out or default_pack_path(config.run.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_synced(target, data)
    write_synced(sidecar(target), (hashlib.sha256(data).hexdigest() + "\n").encode())
    return {**describe_pack(packed), "path": str(target), "bytes": len(data)}


def describe_pack(packed: dict[str, Any]) -> dict[str, Any]:
    keys = ("run", "step", "epoch", "packed_from", "packed_at", "optimizer_dtype")
    return {key: packed[key] for key in keys}


def read_pack(path: Path) -> dict[str, Any]:
    """Load a packed run after checking its sha256 sidecar; CheckpointError says what is wrong."""
    if not path.is_file():
        raise CheckpointError(f"no packed run at {path}")
    packed = load_verified(path)
    if not isinstance(packed, dict) or packed.get("format") != PACK_FORMAT:
        raise CheckpointError(f"{path.name}: not a run packed by `python -m training pack-run`")
    return packed


def unpack_run(config: TrainingConfig, source: Path | None = None) -> dict[str, Any]:
    """Write a packed run back into its run folder so that ``train --resume`` continues it.

    Refuses (CheckpointError, nothing written) when the pack belongs to another run or the run
    folder already holds a checkpoint at or after the packed step. Side effects: writes the
    text records and one checkpoint (training.checkpoint_store) into the run folder.
    """
    path = source or default_pack_path(config.run.name)
    packed = read_pack(path)
    if packed["run"] != config.run.name:
        raise CheckpointError(
            f"{path.name} holds run {packed['run']!r}, the config names {config.run.name!r}"
        )
    run_dir = config.run_dir
    newest = list_checkpoints(run_dir)
    if newest and newest[0][0] >= packed["step"]:
        raise CheckpointError(
            f"{run_dir} already holds step {newest[0][0]}, not older than the packed step "
            f"{packed['step']}: nothing unpacked (resume it with train --resume)"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, compressed in packed["records"].items():
        (run_dir / name).write_bytes(gzip.decompress(compressed))
    carried = {**describe_pack(packed), "pack_sha256": sidecar(path).read_text().strip()}
    checkpoint = {**packed["checkpoint"], "carried": carried}
    checkpoint["optimizer"] = restore_optimizer(checkpoint["optimizer"])
    written = write_checkpoint(run_dir, packed["step"], checkpoint)
    log_message(
        run_dir,
        f"unpacked {path.name} (packed {packed['packed_at']} from {packed['packed_from']}, "
        f"epoch {packed['epoch']}, step {packed['step']}) as {written.name}; optimiser moments "
        f"were carried as {packed['optimizer_dtype']}, best.pt was not carried",
    )
    return {**carried, "checkpoint": str(written)}
