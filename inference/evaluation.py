"""``python -m inference evaluate``: score an emotion model on a folder-per-class data set."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inference.classification_metrics import compute_metrics, render_confusion_png
from inference.emotion import EmotionClassifier
from inference.model_manifest import CANONICAL_CLASSES

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class DatasetError(ValueError):
    """The data folder is missing or holds no images in class sub-folders."""


def iter_folder(root: Path) -> Iterator[tuple[str, bytes]]:
    """(class name, encoded image) for every image in ``root/<class>/``, sorted by path."""
    for path in sorted(root.glob("*/*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            yield path.parent.name, path.read_bytes()


def iter_tar_split(archive: Path, split: str) -> Iterator[tuple[str, bytes]]:
    """(class, bytes) for members ``*/<split>/<class>/<file>`` of a .tar.gz, streamed."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if member.isfile() and len(parts) >= 3 and parts[-3] == split:
                handle = tar.extractfile(member)
                if handle is not None and member.name.lower().endswith(IMAGE_SUFFIXES):
                    yield parts[-2], handle.read()


def load_labelled_faces(
    items: Iterator[tuple[str, bytes]], limit: int | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Decode to gray uint8 crops with canonical class indices; unknown class folders raise."""
    crops: list[np.ndarray] = []
    labels: list[int] = []
    for label, data in items:
        if label not in CANONICAL_CLASSES:
            raise DatasetError(f"folder {label!r} is not one of {CANONICAL_CLASSES}")
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue  # an undecodable file is not a model error; it is skipped, not scored
        crops.append(img)
        labels.append(CANONICAL_CLASSES.index(label))
        if limit is not None and len(crops) >= limit:
            break
    if not crops:
        raise DatasetError("no decodable images found in class sub-folders")
    return crops, np.asarray(labels, dtype=np.int64)


def evaluate_classifier(
    classifier: EmotionClassifier, crops: list[np.ndarray], labels: np.ndarray
) -> dict[str, Any]:
    """Metrics of ``classifier`` on pre-cropped faces (classification_metrics.compute_metrics)."""
    probs = classifier.classify(crops)
    metrics = compute_metrics(labels, probs.argmax(axis=1), CANONICAL_CLASSES, probs)
    metrics["model"] = classifier.manifest.name
    return metrics


def evaluate_folder(
    data: Path, model: str | None, out_png: Path | None = None, threads: int = 0
) -> dict[str, Any]:
    """Evaluate on ``data`` (folder-per-class); optionally write the confusion matrix PNG."""
    if not data.is_dir():
        raise DatasetError(f"{data} is not a directory")
    crops, labels = load_labelled_faces(iter_folder(data))
    metrics = evaluate_classifier(EmotionClassifier(model, threads=threads), crops, labels)
    metrics["dataset"] = str(data)
    if out_png is not None:
        title = f"{metrics['model']} on {data.name} (n={metrics['n']})"
        render_confusion_png(
            np.asarray(metrics["confusion_matrix"]), CANONICAL_CLASSES, out_png, title
        )
    return metrics


def format_report(metrics: dict[str, Any]) -> str:
    """Plain-text table of the headline figures, per-class rows and the confusion matrix."""
    lines = [
        f"model {metrics['model']}  n={metrics['n']}",
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"balanced accuracy {metrics['balanced_accuracy']:.4f}",
        f"{'class':<10}{'prec':>7}{'recall':>8}{'f1':>7}{'support':>9}",
    ]
    for name, row in metrics["per_class"].items():
        lines.append(
            f"{name:<10}{row['precision']:>7.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}"
            f"{row['support']:>9d}"
        )
    lines.append("confusion matrix (rows true, columns predicted): " + " ".join(CANONICAL_CLASSES))
    lines += ["  " + " ".join(f"{v:>5d}" for v in row) for row in metrics["confusion_matrix"]]
    return "\n".join(lines)
