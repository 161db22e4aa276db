"""``python -m training evaluate``: the shared metrics for a model on a labelled split.

Reports accuracy, macro-F1, balanced accuracy, per-class precision/recall/F1, one-vs-rest ROC
AUC and a confusion-matrix PNG (all from inference.classification_metrics), with test-time
augmentation (TTA) off and, on request, on. TTA averages the probabilities of the face and its
mirror image plus two small shifts; the engine itself does not use TTA, so "off" is the figure
that predicts run-time behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from inference.classification_metrics import compute_metrics, render_confusion_png
from inference.model_manifest import CANONICAL_CLASSES

TTA_SHIFT = 2  # pixels

# Preprocessed batch (N, C, H, W) -> probabilities (N, 7) in CANONICAL_CLASSES order.
# Defined here, without torch, so evaluation also serves ONNX-only installs.
Predict = Callable[[np.ndarray], np.ndarray]


def tta_views(inputs: np.ndarray) -> list[np.ndarray]:
    """The original NCHW batch, its mirror, and shifts of ±TTA_SHIFT pixels (edge-padded)."""
    s = TTA_SHIFT
    padded = np.pad(inputs, ((0, 0), (0, 0), (s, s), (s, s)), mode="edge")
    h, w = inputs.shape[2:]
    return [
        inputs,
        np.ascontiguousarray(inputs[..., ::-1]),
        np.ascontiguousarray(padded[:, :, s : s + h, :w]),
        np.ascontiguousarray(padded[:, :, s : s + h, 2 * s :]),
    ]


def predict_probs(predict: Predict, inputs: np.ndarray, tta: bool) -> np.ndarray:
    """(N, 7) canonical probabilities, averaged over TTA views when ``tta``."""
    if not tta:
        return predict(inputs)
    return np.mean([predict(view) for view in tta_views(inputs)], axis=0)


def evaluate_predictions(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    return compute_metrics(labels, probs.argmax(axis=1), CANONICAL_CLASSES, probs)


def evaluate_model(
    predict: Predict,
    inputs: np.ndarray,
    labels: np.ndarray,
    tta: bool = False,
    out_dir: Path | None = None,
    title: str = "",
) -> dict[str, Any]:
    """{"tta_off": metrics[, "tta_on": metrics]}; writes confusion PNGs into ``out_dir``."""
    report: dict[str, Any] = {}
    for mode in ("off", "on") if tta else ("off",):
        metrics = evaluate_predictions(labels, predict_probs(predict, inputs, mode == "on"))
        report[f"tta_{mode}"] = metrics
        if out_dir is not None:
            png = out_dir / f"confusion_tta_{mode}.png"
            cm = np.asarray(metrics["confusion_matrix"])
            render_confusion_png(cm, CANONICAL_CLASSES, png, f"{title} TTA {mode}")
            metrics["confusion_png"] = str(png)
    return report


def summarise(metrics: dict[str, Any]) -> str:
    """A human-readable table of the headline and per-class figures."""
    lines = [
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"balanced accuracy {metrics['balanced_accuracy']:.4f}  "
        f"macro ROC AUC {metrics.get('macro_roc_auc') or float('nan'):.4f}  (n={metrics['n']})",
        f"{'class':10s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'AUC':>6s} {'support':>7s}",
    ]
    for name, row in metrics["per_class"].items():
        auc = row.get("roc_auc")
        lines.append(
            f"{name:10s} {row['precision']:6.3f} {row['recall']:6.3f} {row['f1']:6.3f} "
            f"{auc if auc is not None else float('nan'):6.3f} {row['support']:7d}"
        )
    return "\n".join(lines)
