"""Paired comparison of two emotion models on the same labelled faces (``compare`` command).

Every candidate of issue 13 is judged against a baseline by the same measures: accuracy of each
at several face sizes; the exact McNemar test on the faces where exactly one of the two is
right (both see the same faces, so those discordant faces carry all the evidence of a
difference); expected calibration error at full size; and how alike the two are (the share of
faces given the same label, the share wrong for both, and the accuracy of their mean
probability), since averaging two models that make the same mistakes gains nothing.

``shipping_verdict`` applies the rule that the training configs write down before their runs
end: the candidate ships only if it beats the baseline at full size by at least half a point or
with McNemar p < 0.05, with ECE <= 0.03 and accuracy >= 0.64 on faces shrunk to 24 px.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from inference.model_manifest import Preprocessing
from training.errors import TrainingError
from training.face_size_evaluation import FACE_SIZES, shrink_inputs
from training.model_evaluation import Predict
from training.temperature_scaling import expected_calibration_error

MIN_GAIN = 0.005  # half a point of accuracy at full size
ALPHA = 0.05
MAX_ECE = 0.03
SMALL_FACE_PX = 24
MIN_SMALL_FACE_ACCURACY = 0.64


@dataclass(frozen=True)
class ComparedModel:
    """One side of a comparison: a scorer with its preprocessed faces (same faces, same order)."""

    name: str
    predict: Predict
    inputs: np.ndarray
    preprocessing: Preprocessing


@dataclass(frozen=True)
class PairedFigures:
    """Both models on the same faces at one face size; shares are of all faces."""

    face_px: int
    accuracy_a: float
    accuracy_b: float
    only_a_right: int
    only_b_right: int
    mcnemar_p: float
    agreement: float
    both_wrong: float
    mean_accuracy: float


def exact_mcnemar_p(only_a_right: int, only_b_right: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference" each discordant face is a fair
    coin, so p is twice the binomial(n, 1/2) tail at the smaller count, capped at 1.
    """
    n = only_a_right + only_b_right
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a_right, only_b_right) + 1))
    return min(1.0, 2 * tail / 2**n)  # exact integer arithmetic, one rounding at the end


def pair_figures(
    labels: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray, face_px: int
) -> PairedFigures:
    """Accuracies, discordant counts, McNemar p and likeness of two (N, 7) probability arrays."""
    pred_a, pred_b = probs_a.argmax(axis=1), probs_b.argmax(axis=1)
    right_a, right_b = pred_a == labels, pred_b == labels
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    return PairedFigures(
        face_px=face_px,
        accuracy_a=float(right_a.mean()),
        accuracy_b=float(right_b.mean()),
        only_a_right=only_a,
        only_b_right=only_b,
        mcnemar_p=exact_mcnemar_p(only_a, only_b),
        agreement=float(np.mean(pred_a == pred_b)),
        both_wrong=float(np.mean(~right_a & ~right_b)),
        mean_accuracy=float(np.mean((probs_a + probs_b).argmax(axis=1) == labels)),
    )


def compare_models(
    a: ComparedModel, b: ComparedModel, labels: np.ndarray, sizes: Iterable[int] = FACE_SIZES
) -> dict[str, Any]:
    """{"a", "b", "n", "ece_a", "ece_b", "by_face_px": {"48": PairedFigures as dict, ...}}.

    Sizes are reported largest first, whatever their order in ``sizes``; ECE is measured on the
    largest. Raises TrainingError when the two sides do not hold one input per label.
    """
    for side in (a, b):
        if len(side.inputs) != len(labels):
            raise TrainingError(f"{side.name}: {len(side.inputs)} inputs for {len(labels)} labels")

    def probs(side: ComparedModel, px: int) -> np.ndarray:
        return side.predict(shrink_inputs(side.inputs, side.preprocessing, px))

    by_px = {px: (probs(a, px), probs(b, px)) for px in sizes}
    return paired_report(a.name, b.name, labels, by_px)


def paired_report(
    a: str, b: str, labels: np.ndarray, probs_by_px: dict[int, tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    """``compare_models``'s report from both sides' (N, 7) probabilities at each face size.

    Sizes are reported largest first; ECE is measured on the largest.
    """
    report: dict[str, Any] = {"a": a, "b": b, "n": len(labels), "by_face_px": {}}
    for px in sorted(probs_by_px, reverse=True):
        probs_a, probs_b = probs_by_px[px]
        report["by_face_px"][str(px)] = asdict(pair_figures(labels, probs_a, probs_b, px))
        if "ece_a" not in report:  # the largest size
            report["ece_a"] = expected_calibration_error(probs_a, labels)
            report["ece_b"] = expected_calibration_error(probs_b, labels)
    return report


def shipping_verdict(report: dict[str, Any]) -> dict[str, Any]:
    """Whether b (the candidate) meets the rule against a (the baseline), and why not.

    Full size is the report's first (largest) face size; the small-face check needs 24 px in it.
    """
    sizes = list(report["by_face_px"])
    full = report["by_face_px"][sizes[0]]
    gain = full["accuracy_b"] - full["accuracy_a"]
    significant = full["mcnemar_p"] < ALPHA and full["only_b_right"] > full["only_a_right"]
    reasons = []
    # two decimals in the reason: a gain just short of the bar (+0.47) must not read "+0.5"
    if gain < MIN_GAIN and not significant:
        reasons.append(
            f"{gain * 100:+.2f} points at {sizes[0]} px (needs >= {MIN_GAIN * 100:.2f}) and "
            f"McNemar p = {full['mcnemar_p']:.2f} (needs < {ALPHA} in its favour)"
        )
    if report["ece_b"] > MAX_ECE:
        reasons.append(f"ECE {report['ece_b']:.3f} (needs <= {MAX_ECE})")
    small = report["by_face_px"].get(str(SMALL_FACE_PX))
    if small is None:
        reasons.append(f"no {SMALL_FACE_PX} px figure (add it to the face sizes)")
    elif small["accuracy_b"] < MIN_SMALL_FACE_ACCURACY:
        reasons.append(
            f"{small['accuracy_b']:.3f} at {SMALL_FACE_PX} px (needs >= {MIN_SMALL_FACE_ACCURACY})"
        )
    return {"meets_rule": not reasons, "gain_points": round(gain * 100, 2), "reasons": reasons}


def describe_comparison(report: dict[str, Any], verdict: dict[str, Any]) -> str:
    """A table of the report for the console, then ECE and the verdict."""
    lines = [
        f"a = {report['a']} (baseline), b = {report['b']} (candidate), {report['n']} faces",
        "face px  acc a  acc b  only a right  only b right  McNemar p  agree  both wrong  mean",
    ]
    for px, f in report["by_face_px"].items():
        lines.append(
            f"{px:>7}  {f['accuracy_a']:.3f}  {f['accuracy_b']:.3f}  {f['only_a_right']:>12}"
            f"  {f['only_b_right']:>12}  {f['mcnemar_p']:>9.3f}  {f['agreement']:.3f}"
            f"  {f['both_wrong']:>10.3f}  {f['mean_accuracy']:.3f}"
        )
    lines.append(f"ECE at full size: a {report['ece_a']:.3f}, b {report['ece_b']:.3f}")
    if verdict["meets_rule"]:
        lines.append("verdict: b meets the shipping rule against a")
    else:
        lines.append("verdict: b does not meet the shipping rule: " + "; ".join(verdict["reasons"]))
    return "\n".join(lines)
