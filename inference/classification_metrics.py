"""Classification metrics shared by ``python -m inference evaluate`` and ``python -m training``.

Plain NumPy (no scikit-learn) so the platform's runtime stays small; every figure is defined
here once and checked against hand-computed values in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def roc_auc_one_vs_rest(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve of binary labels (1 = positive) against scores.

    Uses the rank-sum (Mann-Whitney U) formula with tied ranks averaged.
    Returns None when only one class is present.
    """
    y_true = np.asarray(y_true).astype(bool)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    i = 0
    while i < len(sorted_scores):
        j = i
        while j + 1 < len(sorted_scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    rank_sum = ranks[y_true].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def compute_metrics(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    classes: Sequence[str],
    probs: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, balanced accuracy, per-class precision/recall/F1/support,
    the confusion matrix and, when ``probs`` (N x C) is given, one-vs-rest ROC AUC per class
    and their macro mean. Classes absent from y_true count with recall 0 in no average:
    macro averages run over classes with support > 0.
    """
    y_t = np.asarray(y_true, dtype=np.int64)
    y_p = np.asarray(y_pred, dtype=np.int64)
    n = len(classes)
    cm = confusion_matrix(y_t, y_p, n)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    present = support > 0
    result: dict[str, Any] = {
        "n": len(y_t),
        "accuracy": float(tp.sum() / max(len(y_t), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "classes": list(classes),
        "confusion_matrix": cm.tolist(),
    }
    if probs is not None:
        aucs = {name: roc_auc_one_vs_rest(y_t == i, probs[:, i]) for i, name in enumerate(classes)}
        for name, auc in aucs.items():
            result["per_class"][name]["roc_auc"] = auc
        valid = [a for a in aucs.values() if a is not None]
        result["macro_roc_auc"] = float(np.mean(valid)) if valid else None
    return result


def render_confusion_png(cm: np.ndarray, classes: Sequence[str], path: Path, title: str) -> None:
    """Draw a row-normalised confusion matrix (true rows, predicted columns) as a PNG.

    Drawn with OpenCV so the runtime does not need matplotlib. Cells show the row percentage;
    darker blue means larger share (a single-hue scale stays readable for colour-blind users).
    """
    n = len(classes)
    cell, left, top = 64, 110, 70
    width, height = left + n * cell + 20, top + n * cell + 90
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    rows = np.asarray(cm, dtype=np.float64)
    norm = _safe_divide(rows, rows.sum(axis=1, keepdims=True).repeat(n, axis=1))
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, title[:60], (10, 25), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for i in range(n):
        for j in range(n):
            share = float(norm[i, j])
            shade = (255, int(255 - 200 * share), int(255 - 235 * share))  # BGR: white -> blue
            x0, y0 = left + j * cell, top + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), shade, -1)
            colour = (255, 255, 255) if share > 0.5 else (0, 0, 0)
            cv2.putText(
                img, f"{100 * share:.0f}%", (x0 + 12, y0 + 38), font, 0.45, colour, 1, cv2.LINE_AA
            )
        cv2.putText(
            img, classes[i][:9], (8, top + i * cell + 38), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
        cv2.putText(
            img,
            classes[i][:7],
            (left + i * cell + 4, top + n * cell + 20),
            font,
            0.4,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    cv2.putText(
        img, "rows: true class, columns: predicted", (10, height - 30), font, 0.45, (0, 0, 0), 1
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")
