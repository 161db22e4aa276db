"""Paired comparison of two models and the shipping rule (training.model_comparison, `compare`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

from training.cli import main
from training.model_comparison import exact_mcnemar_p, pair_figures, shipping_verdict


def one_hot_probs(predictions: list[int], confidence: float = 0.9) -> np.ndarray:
    """(N, 7) probabilities whose argmax is each prediction, the rest shared evenly."""
    probs = np.full((len(predictions), 7), (1 - confidence) / 6)
    probs[np.arange(len(predictions)), predictions] = confidence
    return probs


def test_mcnemar_p_is_the_doubled_binomial_tail_of_the_discordant_faces() -> None:
    # given discordant counts whose binomial(n, 1/2) tails are known by hand
    # when the exact test is computed, then p = 2 * P(X <= smaller count), capped at 1
    assert exact_mcnemar_p(0, 10) == pytest.approx(2 / 1024)
    assert exact_mcnemar_p(9, 1) == pytest.approx(2 * 11 / 1024)
    assert exact_mcnemar_p(5, 5) == 1.0
    assert exact_mcnemar_p(0, 0) == 1.0
    # and large counts (a whole val split) stay finite and symmetric
    assert exact_mcnemar_p(1500, 1700) == exact_mcnemar_p(1700, 1500) < 1e-3


def test_pair_figures_count_the_faces_only_one_model_gets_right() -> None:
    # given six faces: a right on 0-3, b right on 2-5, b unsure on face 0 and a on face 4
    labels = np.array([0, 1, 2, 3, 4, 5])
    probs_a = one_hot_probs([0, 1, 2, 3, 0, 0])
    probs_b = one_hot_probs([6, 6, 2, 3, 4, 5], confidence=0.5)
    probs_b[0, 0] = 0.45
    probs_a[4] = [0.4, 0.05, 0.05, 0.05, 0.35, 0.05, 0.05]  # a unsure on face 4
    # when the pair is measured
    figures = pair_figures(labels, probs_a, probs_b, face_px=48)
    # then each side's accuracy and the discordant faces are counted
    assert (figures.accuracy_a, figures.accuracy_b) == (4 / 6, 4 / 6)
    assert (figures.only_a_right, figures.only_b_right) == (2, 2)
    assert figures.mcnemar_p == 1.0
    # and likeness: same label on 2 faces, none wrong for both, the mean right on 5 of 6
    assert figures.agreement == pytest.approx(2 / 6)
    assert figures.both_wrong == 0.0
    assert figures.mean_accuracy == pytest.approx(5 / 6)


def report_for(gain: float, only: tuple[int, int], ece_b: float, small_b: float) -> dict[str, Any]:
    """A compare report with a 0.70 baseline, the given full-size gain and 24 px figure."""
    p = exact_mcnemar_p(*only)
    full = {"accuracy_a": 0.70, "accuracy_b": 0.70 + gain, "mcnemar_p": p}
    full |= {"only_a_right": only[0], "only_b_right": only[1]}
    return {"ece_b": ece_b, "by_face_px": {"48": full, "24": {"accuracy_b": small_b}}}


def test_the_rule_asks_for_half_a_point_or_a_significant_gain() -> None:
    # given candidates against a 0.70 baseline, every other condition met
    # when the rule is applied, then +0.6 points passes, and so does a significant +0.3
    assert shipping_verdict(report_for(0.006, (40, 58), 0.02, 0.66))["meets_rule"]
    assert shipping_verdict(report_for(0.003, (10, 30), 0.02, 0.66))["meets_rule"]
    # and +0.4 points with p = 0.17 (the fourteenth session's link) does not
    verdict = shipping_verdict(report_for(0.004, (38, 52), 0.02, 0.66))
    assert not verdict["meets_rule"] and "p = 0.17" in verdict["reasons"][0]
    # and a gain just short of the bar is reported as such, not rounded up to it
    short = shipping_verdict(report_for(0.0047, (113, 130), 0.02, 0.66))
    assert not short["meets_rule"] and short["reasons"][0].startswith("+0.47 points at 48 px")
    # and a significant difference in the baseline's favour does not count for the candidate
    assert not shipping_verdict(report_for(-0.003, (30, 10), 0.02, 0.66))["meets_rule"]


def test_the_rule_also_needs_calibration_and_small_faces() -> None:
    # given candidates one point better at full size
    # when one is overconfident and another weak on 24 px faces
    overconfident = shipping_verdict(report_for(0.01, (20, 56), 0.04, 0.66))
    weak_small = shipping_verdict(report_for(0.01, (20, 56), 0.02, 0.62))
    # then both fail, each naming its reason
    assert overconfident["reasons"] == ["ECE 0.040 (needs <= 0.03)"]
    assert weak_small["reasons"] == ["0.620 at 24 px (needs >= 0.64)"]
    # and a report without 24 px cannot pass
    report = report_for(0.01, (20, 56), 0.02, 0.66)
    del report["by_face_px"]["24"]
    assert not shipping_verdict(report)["meets_rule"]


def test_compare_command_scores_two_registered_models_on_the_same_faces(
    fer_sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given an FP32 model and its INT8 mirror form, and 280 real val faces
    a, b = "resnet-fer-v1", "resnet-fer-v1-mirror-int8"
    out = tmp_path / "compare.json"
    # when they are compared at two face sizes, given smallest first
    args = ["compare", a, b, "--data", str(fer_sample), "--face-sizes", "24,48"]
    assert main([*args, "--out", str(out)]) == 0
    # then the console shows the table and verdict, and the last line is the JSON report
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].startswith("face px") and lines[-2].startswith("verdict: b ")
    report = json.loads(lines[-1])
    assert report == json.loads(out.read_text())
    assert (report["a"], report["b"], report["n"]) == (a, b, 280)
    assert list(report["by_face_px"]) == ["48", "24"]  # full size first, where ECE is taken
    # and the figures hold together: the accuracy gap is the discordant faces' difference
    for figures in report["by_face_px"].values():
        gap = (figures["only_b_right"] - figures["only_a_right"]) / 280
        assert figures["accuracy_b"] - figures["accuracy_a"] == pytest.approx(gap)
        assert 0.3 < figures["agreement"] < 1.0  # two different graphs, mostly alike
    assert report["verdict"]["meets_rule"] == (not report["verdict"]["reasons"])
    assert 0 <= report["ece_b"] < 1


def test_a_model_compared_with_itself_has_no_discordant_faces(
    fer_sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given one model on both sides
    args = ["compare", "resnet-fer-v1", "resnet-fer-v1", "--data", str(fer_sample)]
    # when compared at the default four face sizes
    assert main([*args]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # then nothing differs at any size, and the rule is not met (no gain)
    assert list(report["by_face_px"]) == ["48", "32", "24", "16"]
    for figures in report["by_face_px"].values():
        assert (figures["only_a_right"], figures["only_b_right"]) == (0, 0)
        assert figures["agreement"] == 1.0 and figures["mcnemar_p"] == 1.0
    assert not report["verdict"]["meets_rule"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["no-such-model", "resnet-fer-v1"], "no-such-model"),
        (["resnet-fer-v1", "resnet-fer-v1", "--face-sizes", "48,small"], "--face-sizes"),
        (["resnet-fer-v1", "resnet-fer-v1", "--face-sizes", "48,0"], "at least 1"),
    ],
)
def test_bad_arguments_are_clear_errors(
    extra: list[str], message: str, fer_sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given an unknown model or a malformed face size
    # when compare runs, then it exits 2 with a one-line error naming the problem
    assert main(["compare", *extra, "--data", str(fer_sample)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err
