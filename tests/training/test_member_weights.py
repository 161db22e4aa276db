"""Member weights fitted on labelled faces and judged out of fold (training.member_weights,
`weigh-members` CLI): the EM fit finds the best mixture, cross-fitting never lets a face's own
label reach the weights that score it, and the command reports against a baseline."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from inference.model_manifest import DEFAULT_MODELS_DIR
from training.cli import main
from training.errors import TrainingError
from training.member_weights import (
    STACKER_L2,
    WeightedAverage,
    best_member_condition,
    cross_fit,
    fit_member_weights,
    fit_stacker,
    fold_of_each_face,
    stacked_features,
    tempered,
    weighted_average,
)
from training.temperature_scaling import negative_log_likelihood


def random_members(rng: np.random.Generator, members: int, faces: int) -> np.ndarray:
    """(members, faces, 7) probabilities of members of different skill (sharper, more right)."""
    labels_hint = rng.integers(0, 7, faces)
    logits = rng.standard_normal((members, faces, 7))
    for m in range(members):
        logits[m, np.arange(faces), labels_hint] += 0.8 * (m + 1)
    e = np.exp(logits)
    return e / e.sum(axis=2, keepdims=True)


def mixture_nll(member_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    return negative_log_likelihood(weighted_average(member_probs, weights), labels)


def test_the_fitted_weights_beat_every_weighting_of_a_fine_grid() -> None:
    # given three members of different skill on 400 faces
    rng = np.random.default_rng(11)
    probs = random_members(rng, 3, 400)
    labels = rng.integers(0, 7, 400)
    labels[:250] = probs[2, :250].argmax(axis=1)  # the sharpest member is often right
    # when the weights are fitted
    weights = fit_member_weights(probs, labels)
    # then they are a point of the simplex at least as likely as any on a 1% grid
    assert weights.min() >= 0 and weights.sum() == pytest.approx(1.0)
    grid = [
        np.array([a, b, 100 - a - b]) / 100
        for a, b in itertools.product(range(101), repeat=2)
        if a + b <= 100
    ]
    best = min(grid, key=lambda w: mixture_nll(probs, labels, w))
    assert mixture_nll(probs, labels, weights) <= mixture_nll(probs, labels, best) + 1e-9
    assert np.abs(weights - best).max() < 0.02


def test_a_member_that_knows_nothing_gets_no_weight() -> None:
    # given a member that is always 0.9 sure of the right label and one that is uniform
    labels = np.arange(70) % 7
    good = np.full((70, 7), 0.1 / 6)
    good[np.arange(70), labels] = 0.9
    useless = np.full((70, 7), 1 / 7)
    # when weighed, then the uniform one's weight vanishes
    weights = fit_member_weights(np.stack([good, useless]), labels)
    assert weights[1] < 1e-3


def test_no_face_is_scored_by_weights_that_saw_its_label() -> None:
    # given members, labels and a 4-fold cut
    rng = np.random.default_rng(5)
    probs = random_members(rng, 3, 240)
    labels = rng.integers(0, 7, 240)
    first = cross_fit({48: probs}, labels, folds=4, seed=9)
    # when the labels of one fold's faces are changed
    held = first.fold == 2
    changed = labels.copy()
    changed[held] = (changed[held] + 3) % 7
    second = cross_fit({48: probs}, changed, folds=4, seed=9)
    # then those faces' out-of-fold probabilities do not move, and the other folds' do
    assert np.array_equal(first.probs[48][held], second.probs[48][held])
    assert first.fits[2].describe() == second.fits[2].describe()
    assert not np.allclose(first.probs[48][~held], second.probs[48][~held])


def test_smaller_faces_are_scored_with_the_weights_fitted_at_full_size() -> None:
    # given members scored at two face sizes
    rng = np.random.default_rng(8)
    full, small = random_members(rng, 2, 120), random_members(rng, 2, 120)
    labels = rng.integers(0, 7, 120)
    # when cross-fitted, then the small faces of each fold use that fold's full-size fit
    fitted = cross_fit({48: full, 24: small}, labels, folds=3, seed=1)
    for k in range(3):
        held = fitted.fold == k
        fit = fitted.fits[k]
        assert isinstance(fit, WeightedAverage)
        expected = tempered(weighted_average(small[:, held], fit.weights), fit.temperature)
        assert np.allclose(fitted.probs[24][held], expected)


def swapping_members(rng: np.random.Generator, faces: int) -> tuple[np.ndarray, np.ndarray]:
    """Two members that both give most of their probability to the label after the true one."""
    labels = rng.integers(0, 7, faces)
    probs = np.full((2, faces, 7), 0.05)
    probs[:, np.arange(faces), (labels + 1) % 7] = 0.7
    probs += rng.uniform(0, 0.02, probs.shape)
    return probs / probs.sum(axis=2, keepdims=True), labels


def test_the_stacker_undoes_a_confusion_every_member_shares() -> None:
    # given two members that both name the label after the true one
    rng = np.random.default_rng(3)
    probs, labels = swapping_members(rng, 350)
    # when cross-fitted by weights and by the stacker
    weighted = cross_fit({48: probs}, labels, folds=5, seed=1)
    stacked = cross_fit({48: probs}, labels, folds=5, seed=1, fit=fit_stacker)
    # then no weighting can help, and the stacker's out-of-fold labels are right
    assert np.mean(weighted.probs[48].argmax(axis=1) == labels) < 0.05
    assert np.mean(stacked.probs[48].argmax(axis=1) == labels) > 0.95
    assert np.allclose(stacked.probs[48].sum(axis=1), 1.0)


def test_the_stacker_ends_no_worse_than_its_equal_weight_start() -> None:
    # given three members of different skill
    rng = np.random.default_rng(6)
    probs = random_members(rng, 3, 300)
    labels = rng.integers(0, 7, 300)
    labels[:200] = probs[1, :200].argmax(axis=1)
    x = stacked_features(probs)

    def objective(matrix: np.ndarray, bias: np.ndarray) -> float:
        logits = x @ matrix + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(300), labels].mean() + STACKER_L2 * (matrix**2).sum())

    # when the stacker is fitted
    fit = fit_stacker(probs, labels)
    # then its objective is below that of the equal-weight log-linear pool it starts from
    start = np.tile(np.eye(7) / 3, (3, 1))
    assert objective(fit.matrix, fit.bias) < objective(start, np.zeros(7)) - 1e-3
    # and it leans on the member the labels follow
    diagonals = fit.describe()["member_diagonals"]
    assert diagonals[1] == max(diagonals)


def test_folds_are_near_equal_seeded_and_refused_when_impossible() -> None:
    # given 103 faces in 5 folds, then each fold holds 20 faces and three of them one more,
    # the same for one seed
    fold = fold_of_each_face(103, 5, seed=3)
    assert sorted(np.bincount(fold)) == [20, 20, 21, 21, 21]
    assert np.array_equal(fold, fold_of_each_face(103, 5, seed=3))
    assert not np.array_equal(fold, fold_of_each_face(103, 5, seed=4))
    # and one fold, or more folds than faces, is refused
    for folds in (1, 104):
        with pytest.raises(TrainingError, match="folds"):
            fold_of_each_face(103, folds, seed=3)


def test_tempering_at_one_keeps_the_probabilities_and_never_changes_the_label() -> None:
    probs = random_members(np.random.default_rng(2), 1, 50)[0]
    assert np.allclose(tempered(probs, 1.0), probs)
    for t in (0.5, 2.0):
        assert np.array_equal(tempered(probs, t).argmax(axis=1), probs.argmax(axis=1))


def test_command_reports_the_out_of_fold_average_against_a_baseline(
    fer_sample: Path, tmp_path: Path
) -> None:
    # given two shipped models and FER-2013 val faces
    members = ["resnet-fer-v1", "resnet-fer-v1-mirror-int8"]
    out = tmp_path / "weighed.json"
    # when they are weighed against the first as baseline, in two folds
    args = ["weigh-members", *members, "--baseline", members[0], "--folds", "2"]
    code = main([*args, "--data", str(fer_sample), "--face-sizes", "24", "--out", str(out)])
    # then the report gives the weights, both folds' fits, and the comparison by face size
    assert code == 0
    report = json.loads(out.read_text())
    assert sum(report["whole_split_fit"]["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert len(report["fold_fits"]) == 2 and report["n"] == 280
    comparison = report["comparison"]
    assert list(comparison["by_face_px"]) == ["48", "24"]
    # and the baseline scored alone equals the same model scored as a member
    full = comparison["by_face_px"]["48"]
    assert full["accuracy_a"] == pytest.approx(report["members_alone"][members[0]])


def test_a_combination_below_its_best_member_does_not_meet_the_rule() -> None:
    # given a verdict the shipping rule passed, and members alone scoring 0.70 and 0.71
    passed = {"meets_rule": True, "gain_points": 0.8, "reasons": []}
    alone = {"a": 0.70, "b": 0.71}
    # when the combination scores 0.705, then it fails, naming the best member's score
    failed = best_member_condition(passed, 0.705, alone)
    assert failed["meets_rule"] is False
    assert failed["reasons"] == ["0.7050 is below its best member alone (0.7100)"]
    # and at 0.71 or above, or with a rule already failed, nothing else changes
    assert best_member_condition(passed, 0.71, alone) == passed
    refused = {"meets_rule": False, "gain_points": 0.1, "reasons": ["ECE 0.040"]}
    assert best_member_condition(refused, 0.705, alone)["reasons"][0] == "ECE 0.040"


def test_command_stacks_members_when_asked(fer_sample: Path, tmp_path: Path) -> None:
    # given two shipped models, when stacked in two folds
    out = tmp_path / "stacked.json"
    args = ["weigh-members", "resnet-fer-v1", "resnet-fer-v1-mirror-int8"]
    args += ["--baseline", "resnet-fer-v1", "--folds", "2", "--combiner", "stacked"]
    assert main([*args, "--data", str(fer_sample), "--out", str(out)]) == 0
    # then the report names the combiner and describes each fit as a regression
    report = json.loads(out.read_text())
    assert report["combiner"] == "stacked"
    assert len(report["whole_split_fit"]["member_diagonals"]) == 2
    assert report["comparison"]["b"] == "stacked combination (out of fold)"


def test_command_refuses_members_that_read_other_inputs(
    fer_sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a 48 px model and the 64 px fer-mini-xception (other normalisation)
    args = ["weigh-members", "resnet-fer-v1", "fer-mini-xception", "--baseline", "resnet-fer-v1"]
    # when weighed, then it is refused naming the model
    code = main([*args, "--models-dir", str(DEFAULT_MODELS_DIR), "--data", str(fer_sample)])
    assert code == 2 and "fer-mini-xception takes other inputs" in capsys.readouterr().err
