"""Interruption-safe resume checkpoints: atomic, checksummed, the previous one kept.

A run folder holds ``checkpoints/step-<global step>.pt``, each with a ``.sha256`` sidecar
(hex digest of the file's bytes). Files are never renamed after they are complete, so a kill at
any moment leaves either a complete, verifiable checkpoint or a ``.tmp`` file that is ignored:

1. the payload is serialised in memory and hashed;
2. it is written to ``step-N.pt.tmp`` and fsynced, the sidecar likewise, then both are renamed;
3. only then are checkpoints older than the newest ``KEEP`` removed.

``last.pt`` in the run folder is a hard link (a copy where links fail) to the newest checkpoint,
for tools that load "the run's latest weights". Resuming takes the newest checkpoint whose
digest matches its sidecar; a corrupted or unreadable one is reported and the previous is used.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.errors import CheckpointError

KEEP = 2  # the newest checkpoint and the previous good one
STEP_FILE = re.compile(r"^step-(\d+)\.pt$")
FORMAT = "wellbeing-training-checkpoint/1"


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint a run resumes from, and the warnings about newer ones that were skipped."""

    path: Path
    payload: dict[str, Any]
    skipped: tuple[str, ...]


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def checkpoint_due(last_saved: float, now: float, interval_s: float) -> bool:
    """True once ``interval_s`` seconds have passed since ``last_saved`` (monotonic clock)."""
    return now - last_saved >= interval_s


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path.tmp``, fsync it, and rename it to ``path`` (atomic on POSIX)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def link_latest(source: Path, target: Path) -> None:
    """Point ``target`` at ``source``'s content (hard link, else copy), replacing it atomically."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    tmp.replace(target)


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the complete-looking checkpoint files, newest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_FILE.match(p.name))]
    return sorted(found, reverse=True)


def write_checkpoint(run_dir: Path, step: int, payload: dict[str, Any]) -> Path:
    """Save ``payload`` as the checkpoint of global ``step``; returns its path.

    Contract: when this returns, the file and its sidecar are on disk, ``last.pt`` points at it,
    and at most ``KEEP`` checkpoints remain. A kill before that leaves the previous ones intact.
    """
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    data = buffer.getvalue()
    path = folder / f"step-{step:09d}.pt"
    write_synced(path, data)
    write_synced(sidecar(path), (hashlib.sha256(data).hexdigest() + "\n").encode())
    link_latest(path, run_dir / "last.pt")
    for _, old in list_checkpoints(run_dir)[KEEP:]:
        old.unlink(missing_ok=True)
        sidecar(old).unlink(missing_ok=True)
    return path


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def load_verified(path: Path) -> Any:
    """Load a torch file after checking its sha256 sidecar; CheckpointError says what is wrong."""
    if not sidecar(path).is_file():
        raise CheckpointError(f"{path.name}: no checksum file {sidecar(path).name}")
    data = path.read_bytes()
    expected = sidecar(path).read_text().strip()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise CheckpointError(
            f"{path.name}: checksum mismatch (file {actual[:12]}..., "
            f"recorded {expected[:12]}...), the file is corrupted"
        )
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for damaged archives
        raise CheckpointError(f"{path.name}: cannot be read ({exc})") from exc


def verify_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint after checking its sha256 sidecar; CheckpointError says what is wrong."""
    payload = load_verified(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name}: not a checkpoint written by `python -m training`")
    return payload


def find_resume_point(run_dir: Path, warn: Callable[[str], None]) -> ResumePoint:
    """The newest checkpoint that verifies; each newer one that fails is passed to ``warn``.

    Raises CheckpointError when the run folder holds no usable checkpoint at all.
    """
    skipped: list[str] = []
    for _, path in list_checkpoints(run_dir):
        try:
            payload = verify_checkpoint(path)
        except CheckpointError as exc:
            message = f"warning: skipping checkpoint {exc}; trying the previous one"
            warn(message)
            skipped.append(str(exc))
            continue
        return ResumePoint(path, payload, tuple(skipped))
    if (run_dir / "last.pt").is_file() and not skipped:
        raise CheckpointError(
            f"{run_dir} has only a last.pt from an older version of the trainer (no "
            "checkpoints/ folder with checksums); it cannot be resumed exactly. Start a new run"
        )
    reason = f" ({'; '.join(skipped)})" if skipped else ""
    raise CheckpointError(f"no usable checkpoint to resume in {checkpoint_dir(run_dir)}{reason}")


class CheckpointClock:
    """Decides when the next time-based checkpoint is due (``interval_s`` after the last)."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s, self.clock = interval_s, clock
        self.last_saved = clock()

    def due(self) -> bool:
        return checkpoint_due(self.last_saved, self.clock(), self.interval_s)

    def saved(self) -> None:
        self.last_saved = self.clock()
