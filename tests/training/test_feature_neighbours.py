"""The nearest training faces beside the network (training.feature_neighbours, `neighbours`
CLI): the features are the input of the network's final layer, the votes follow the nearest faces'
labels, and the blend leans on whichever source knows the labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

pytest.importorskip("torch")

from inference.model_manifest import CANONICAL_CLASSES, DEFAULT_MODELS_DIR, resolve_model
from training.cli import main
from training.errors import TrainingError
from training.feature_neighbours import (
    feature_extractor,
    fit_neighbour_blend,
    mirrored_features,
    nearest,
    neighbour_votes,
    penultimate_output,
)
from training.model_predictors import onnx_predictor


def unit_rows(rng: np.random.Generator, rows: int, dims: int) -> np.ndarray:
    x = rng.standard_normal((rows, dims)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_the_features_are_what_the_final_layer_turns_into_the_probabilities() -> None:
    # given a shipped FP32 network and some faces
    manifest, path = resolve_model("resnet-fer-v1", DEFAULT_MODELS_DIR)
    pre = manifest.preprocessing
    faces = np.random.default_rng(0).random((5, 1, pre.size, pre.size)).astype(np.float32)
    # when its penultimate activations are read
    features = feature_extractor(path)(faces)
    # then the graph's own final layer (Gemm, softmax) turns them into its probabilities
    model = onnx.load(str(path))
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    gemm = [n for n in model.graph.node if n.op_type == "Gemm"][-1]
    assert penultimate_output(model) == gemm.input[0]
    logits = features @ weights[gemm.input[1]].T + weights[gemm.input[2]]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    session_probs = onnx_predictor(path, manifest.classes)(faces)
    order = [manifest.classes.index(c) for c in CANONICAL_CLASSES]
    assert np.allclose(probs[:, order], session_probs, atol=1e-5)


def test_mirrored_features_have_unit_length_and_ignore_which_way_the_face_looks() -> None:
    # given a feature reader that sees left-right differences
    def extract(inputs: np.ndarray) -> np.ndarray:
        return inputs.reshape(len(inputs), -1) * np.arange(1, inputs[0].size + 1)

    faces = np.random.default_rng(1).random((4, 1, 3, 5)).astype(np.float32)
    # when the faces and their mirror images are read
    plain = mirrored_features(extract, faces)
    flipped = mirrored_features(extract, faces[..., ::-1])
    # then both give the same unit-length features
    assert np.allclose(np.linalg.norm(plain, axis=1), 1.0)
    assert np.allclose(plain, flipped, atol=1e-6)
    assert not np.allclose(plain, extract(faces) / np.linalg.norm(extract(faces), axis=1)[:, None])


def test_nearest_finds_the_most_similar_bank_faces_in_order_across_chunks() -> None:
    # given 50 queries and a bank of 300 unit vectors
    rng = np.random.default_rng(2)
    query, bank = unit_rows(rng, 50, 16), unit_rows(rng, 300, 16)
    # when the 7 nearest are found in chunks of 8 queries
    sims, idx = nearest(query, bank, 7, chunk=8)
    # then they are the brute-force 7 most similar, most similar first
    full = query @ bank.T
    assert np.array_equal(idx, np.argsort(-full, axis=1, kind="stable")[:, :7])
    assert np.allclose(sims, np.take_along_axis(full, idx, axis=1))


def test_votes_follow_the_nearest_labels_weighted_by_similarity() -> None:
    # given a bank of three faces along two directions, labelled 0, 0 and 2
    bank = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    labels = np.array([0, 0, 2])
    query = np.array([[0.6, 0.8]], dtype=np.float32)  # similarities 0.6, 0.96, 0.8
    # when it votes with k = 1, 2 and 3 at the vote temperature 0.1
    votes = neighbour_votes(query, bank, labels, [1, 2, 3], classes=3, temperature=0.1)
    # then k = 1 is the nearest face's label, and more faces weigh exp(similarity / 0.1)
    assert np.allclose(votes[0, 0], [1, 0, 0])
    w = np.exp(np.array([0.96, 0.8, 0.6]) / 0.1)
    assert np.allclose(votes[1, 0], [w[0] / (w[0] + w[1]), 0, w[1] / (w[0] + w[1])])
    assert np.allclose(votes[2, 0], [(w[0] + w[2]) / w.sum(), 0, w[1] / w.sum()])
    # and counts the bank cannot hold, or repeated, are refused
    for ks in ([4], [1, 1], [0]):
        with pytest.raises(TrainingError, match="neighbour counts"):
            neighbour_votes(query, bank, labels, ks, classes=3)


def test_the_blend_leans_on_the_source_that_knows_the_labels() -> None:
    # given 600 faces, a network that guesses, and three neighbour counts of which only the
    # second's votes point at the true label most of the time
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 7, 600)
    guess = rng.dirichlet(np.ones(7), 600)
    noise = [rng.dirichlet(np.ones(7), 600) for _ in range(3)]
    knowing = 0.5 * noise[1] + 0.5 * np.eye(7)[labels]
    probs = np.stack([guess, noise[0], knowing, noise[2]])
    # when the blend is fitted
    blend = fit_neighbour_blend(probs, labels, ks=(5, 10, 20))
    # then it picks that count and gives the network little weight
    assert blend.k == 10 and blend.k_index == 1
    assert blend.weight < 0.2
    assert np.mean(blend(probs).argmax(axis=1) == labels) > 0.9
    # and a network that knows the labels takes the weight back
    blend = fit_neighbour_blend(np.stack([knowing, *noise]), labels, ks=(5, 10, 20))
    assert blend.weight > 0.8


def test_command_judges_the_blend_out_of_fold_against_the_network(
    fer_sample: Path, tmp_path: Path
) -> None:
    # given a shipped network, its FP32 source, and a bank holding the judged faces themselves
    out = tmp_path / "neighbours.json"
    args = ["neighbours", "resnet-fer-v1-mirror-int8", "--features", "resnet-fer-v1"]
    args += ["--bank", str(fer_sample), "--data", str(fer_sample), "--k", "1,5"]
    # when the blend is judged in two folds
    code = main([*args, "--folds", "2", "--face-sizes", "24", "--out", str(out)])
    # then every face's nearest bank face is itself, so one neighbour alone is always right
    assert code == 0
    report = json.loads(out.read_text())
    assert report["neighbours_alone"]["1"] == 1.0 and report["bank_faces"] == report["n"] == 280
    # and the out-of-fold blend, fitted in two folds, beats the network by far
    assert report["whole_split_fit"]["k"] == 1 and len(report["fold_fits"]) == 2
    full = report["comparison"]["by_face_px"]["48"]
    assert full["accuracy_b"] > full["accuracy_a"] + 0.1
    assert list(report["comparison"]["by_face_px"]) == ["48", "24"]


def test_command_refuses_features_read_at_another_size(fer_sample: Path) -> None:
    # given a 48 px network and a 64 px feature network, then the command refuses
    args = ["neighbours", "resnet-fer-v1-mirror-int8", "--features", "resnet-fer-64px"]
    assert main([*args, "--bank", str(fer_sample), "--data", str(fer_sample)]) == 2


def test_command_refuses_neighbour_counts_that_are_not_counts(
    fer_sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a network, its features and counts of "five" or of zero neighbours
    args = ["neighbours", "resnet-fer-v1-mirror-int8", "--features", "resnet-fer-v1"]
    for counts in ("5,x", "0,5"):
        # when the command runs, then it stops with a message naming --k
        assert main([*args, "--data", str(fer_sample), "--k", counts]) == 2
        assert "--k expects neighbour counts" in capsys.readouterr().err
