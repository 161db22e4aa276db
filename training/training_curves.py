"""Loss/accuracy curve PNGs from a run's CSV log (matplotlib, headless)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt


def read_log(path: Path) -> dict[str, list[float]]:
    """Columns of the CSV log as float lists."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(r[key]) for r in rows] for key in (rows[0] if rows else {})}


def render_curves(log_path: Path, out_path: Path) -> None:
    """Two panels (loss, accuracy), train vs val per epoch; overwrites ``out_path``."""
    cols = read_log(log_path)
    if not cols:
        return
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = cols["epoch"]
    ax_loss.plot(epochs, cols["train_loss"], label="train (smoothed, weighted)")
    ax_loss.plot(epochs, cols["val_loss"], label="val (plain cross-entropy)")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_title("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, cols["train_accuracy"], label="train (augmented)")
    ax_acc.plot(epochs, cols["val_accuracy"], label="val")
    ax_acc.plot(epochs, cols["val_macro_f1"], label="val macro-F1", linestyle="--")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_title("accuracy")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
