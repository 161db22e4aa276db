"""The text records of a run folder: run.log, log.csv (per epoch) and batches.csv (per batch).

``batches.csv`` holds one row per optimiser step (epoch, batch, global step, loss, lr); the loss
is written with ``repr`` so that two runs can be compared exactly. On resume both CSV logs are
cut back to what the checkpoint had seen, so rows written after the last checkpoint by the
killed process are replaced by those of the replay instead of being repeated.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

BATCH_FIELDS = ("epoch", "batch", "step", "loss", "lr")


def log_message(run_dir: Path, text: str) -> None:
    """Print and append to run.log (the run folder keeps a plain-text history)."""
    print(text, flush=True)
    with (run_dir / "run.log").open("a") as handle:
        handle.write(text + "\n")


def keep_rows(path: Path, keep: str, limit: int) -> int:
    """Rewrite the CSV at ``path`` with only the rows whose column ``keep`` is <= ``limit``;
    returns how many rows were dropped (0 when the file does not exist).
    """
    if not path.is_file():
        return 0
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    kept = [r for r in rows if int(r[keep]) <= limit]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
    tmp.replace(path)
    return len(rows) - len(kept)


def read_batch_losses(run_dir: Path) -> list[tuple[int, str]]:
    """(global step, loss as written) of every row of batches.csv, in file order."""
    with (run_dir / "batches.csv").open(newline="") as handle:
        return [(int(r["step"]), r["loss"]) for r in csv.DictReader(handle)]


class BatchLog:
    """Appends one line per optimiser step to batches.csv (line-buffered: a kill loses none
    that were written before it)."""

    def __init__(self, path: Path) -> None:
        new = not path.is_file() or path.stat().st_size == 0
        self.handle: TextIO = path.open("a", buffering=1)
        if new:
            self.handle.write(",".join(BATCH_FIELDS) + "\n")

    def write(self, epoch: int, batch: int, step: int, loss: float, lr: float) -> None:
        self.handle.write(f"{epoch},{batch},{step},{loss!r},{lr!r}\n")

    def close(self) -> None:
        self.handle.close()
