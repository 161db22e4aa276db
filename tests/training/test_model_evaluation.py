"""Evaluation figures checked against hand-computed values, and TTA behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.model_manifest import CANONICAL_CLASSES
from training.model_evaluation import Predict, evaluate_model, predict_probs, summarise, tta_views

ANGRY, HAPPY, SAD = (CANONICAL_CLASSES.index(c) for c in ("angry", "happy", "sad"))


def fixed_predictor(probs: np.ndarray) -> Predict:
    """A predictor that ignores its input and returns ``probs`` (rows in input order)."""
    return lambda inputs: probs[: len(inputs)]


def one_hot_probs(predicted: list[int], confidence: list[float]) -> np.ndarray:
    probs = np.zeros((len(predicted), len(CANONICAL_CLASSES)))
    rest = [(1 - c) / (len(CANONICAL_CLASSES) - 1) for c in confidence]
    for i, (p, c) in enumerate(zip(predicted, confidence, strict=True)):
        probs[i] = rest[i]
        probs[i, p] = c
    return probs


def test_figures_match_hand_computation(tmp_path: Path) -> None:
    # given 6 faces: true angry, angry, happy, happy, happy, sad
    #             predicted angry, happy, happy, happy, sad, sad
    labels = np.array([ANGRY, ANGRY, HAPPY, HAPPY, HAPPY, SAD])
    probs = one_hot_probs([ANGRY, HAPPY, HAPPY, HAPPY, SAD, SAD], [0.9, 0.6, 0.8, 0.7, 0.5, 0.9])
    inputs = np.zeros((6, 1, 4, 4), np.float32)
    # when evaluated
    report = evaluate_model(fixed_predictor(probs), inputs, labels, out_dir=tmp_path, title="t")
    m = report["tta_off"]
    # then by hand: 4/6 correct; recalls angry 1/2, happy 2/3, sad 1/1
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    # precisions angry 1/1, happy 2/3, sad 1/2 -> F1 angry 2/3, happy 2/3, sad 2/3
    assert m["per_class"]["happy"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["sad"]["precision"] == pytest.approx(1 / 2)
    assert m["macro_f1"] == pytest.approx(2 / 3)
    # angry AUC: positives score 0.9 and 0.4/6; negatives 0.2/6, 0.3/6, 0.5/6, 0.1/6 -> 7/8
    assert m["per_class"]["angry"]["roc_auc"] == pytest.approx(
        np.mean([a > b for a in (0.9, 0.4 / 6) for b in (0.2 / 6, 0.3 / 6, 0.5 / 6, 0.1 / 6)])
    )
    assert m["confusion_matrix"][HAPPY][SAD] == 1
    assert (tmp_path / "confusion_tta_off.png").is_file()
    assert "accuracy 0.6667" in summarise(m)


def test_tta_averages_the_views() -> None:
    # given a predictor whose output is the mean pixel of the left half per view
    inputs = np.zeros((2, 1, 8, 8), np.float32)
    inputs[:, :, :, :4] = 1.0  # left half bright: the mirror has it on the right

    def left_half_mean(x: np.ndarray) -> np.ndarray:
        score = x[:, 0, :, :4].mean(axis=(1, 2))
        out = np.zeros((len(x), len(CANONICAL_CLASSES)))
        out[:, 0], out[:, 1] = score, 1 - score
        return out

    # when evaluated with TTA on
    report = evaluate_model(left_half_mean, inputs, np.array([0, 0]), tta=True)
    # then "off" scores the original only and "on" includes the mirrored view
    assert report["tta_off"]["accuracy"] == 1.0
    views = tta_views(inputs)
    assert len(views) == 4
    np.testing.assert_array_equal(views[1], inputs[..., ::-1])
    # left-half brightness: original 1, mirror 0, shifted right 1 (edge-padded), left 0.5
    averaged = predict_probs(left_half_mean, inputs, tta=True)[:, 0]
    np.testing.assert_allclose(averaged, (1.0 + 0.0 + 1.0 + 0.5) / 4)
    assert set(report) == {"tta_off", "tta_on"}
