"""The training faces' labels beside the network: nearest neighbours in its feature space.

Local learning (Georgescu, Ionescu and Popescu, 2019) classifies a face by the labelled training
faces nearest to it in a CNN's feature space, beside the CNN's own softmax. Here (twenty-sixth
session, pre-registered in docs/training.md):

- features: a network's penultimate activations (the input of its final linear layer) for the
  face and its mirror image, averaged, scaled to unit length (``mirrored_features``);
- neighbour probabilities: the k most cosine-similar bank faces, each voting for its label with
  weight ``exp(similarity / VOTE_TEMPERATURE)`` (``neighbour_votes``), for several k at once;
- the blend ``tempered(w * p_net + (1 - w) * p_knn(k), T)``: w by EM, T by minimum NLL, and k the
  candidate whose fitted blend has the least NLL (``fit_neighbour_blend``).

The blend is judged out of fold (``member_weights.cross_fit``) against the network alone, paired,
by ``compare``'s shipping rule (``judge_neighbours``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from inference.model_manifest import Preprocessing
from training.errors import TrainingError
from training.face_size_evaluation import shrink_inputs
from training.member_weights import (
    LoadSplit,
    cross_fit,
    fit_average_temperature,
    fit_member_weights,
    tempered,
)
from training.model_comparison import paired_report, shipping_verdict
from training.model_predictors import LoadedModel, onnx_session
from training.temperature_scaling import negative_log_likelihood

VOTE_TEMPERATURE = 0.1  # pre-registered; never tuned on val
DEFAULT_KS = (5, 10, 20, 50, 100, 200)  # pre-registered candidates
Extract = Callable[[np.ndarray], np.ndarray]  # preprocessed faces -> (faces, features)


@dataclass(frozen=True)
class NeighbourBlend:
    """``tempered(weight * p_net + (1 - weight) * p_knn[k_index], temperature)``.

    Called on (1 + len(ks), faces, classes): the network's probabilities, then the neighbour
    probabilities for each candidate k in order.
    """

    k_index: int
    k: int
    weight: float
    temperature: float

    def __call__(self, member_probs: np.ndarray) -> np.ndarray:
        blend = self.weight * member_probs[0] + (1 - self.weight) * member_probs[1 + self.k_index]
        return tempered(blend, self.temperature)

    def describe(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "network_weight": round(self.weight, 6),
            "temperature": round(self.temperature, 4),
        }


def penultimate_output(model: onnx.ModelProto) -> str:
    """The name of the tensor feeding the graph's last Gemm (its final linear layer)."""
    gemms = [node for node in model.graph.node if node.op_type == "Gemm"]
    if not gemms:
        raise TrainingError("the model has no final linear layer (Gemm) to read features from")
    return str(gemms[-1].input[0])


def feature_extractor(path: Path, threads: int = 1, batch: int = 256) -> Extract:
    """Preprocessed faces -> (faces, features) float32: the penultimate activations of ``path``.

    The graph is loaded once and gets that tensor as an extra output; nothing is written.
    """
    model = onnx.load(str(path))
    name = penultimate_output(model)
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    session = onnx_session(model.SerializeToString(), threads)
    input_name = session.get_inputs()[0].name

    def extract(inputs: np.ndarray) -> np.ndarray:
        parts = [
            session.run([name], {input_name: inputs[i : i + batch]})[0]
            for i in range(0, len(inputs), batch)
        ]
        return np.concatenate(parts).reshape(len(inputs), -1).astype(np.float32)

    return extract


def mirrored_features(extract: Extract, inputs: np.ndarray) -> np.ndarray:
    """(faces, features): the face's and its mirror image's features averaged, unit length.

    ``inputs`` are NCHW; the mirror flips the last (width) axis.
    """
    both = (extract(inputs) + extract(np.ascontiguousarray(inputs[..., ::-1]))) / 2
    norms = np.linalg.norm(both, axis=1, keepdims=True)
    return (both / np.maximum(norms, 1e-12)).astype(np.float32)


def nearest(
    query: np.ndarray, bank: np.ndarray, k: int, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, indices), each (faces, k), most similar first: cosine similarity of
    unit-length rows, ``query`` against ``bank`` in chunks of ``chunk`` queries."""
    sims, idx = [], []
    for i in range(0, len(query), chunk):
        s = query[i : i + chunk] @ bank.T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        top_s = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-top_s, axis=1, kind="stable")
        idx.append(np.take_along_axis(top, order, axis=1))
        sims.append(np.take_along_axis(top_s, order, axis=1))
    return np.concatenate(sims), np.concatenate(idx)


def neighbour_votes(
    query: np.ndarray,
    bank: np.ndarray,
    bank_labels: np.ndarray,
    ks: Sequence[int],
    classes: int,
    temperature: float = VOTE_TEMPERATURE,
) -> np.ndarray:
    """(len(ks), faces, classes): for each k, the similarity-weighted label votes of each
    face's k nearest bank faces, normalised to sum to one."""
    check_ks(ks, len(bank))
    sims, idx = nearest(query, bank, max(ks))
    weights = np.exp((sims - sims[:, :1]) / temperature)  # shifted: the nearest weighs 1
    onehot = np.eye(classes)[bank_labels[idx]]  # (faces, kmax, classes)
    votes = []
    for k in ks:
        v = np.einsum("fn,fnc->fc", weights[:, :k], onehot[:, :k])
        votes.append(v / v.sum(axis=1, keepdims=True))
    return np.stack(votes)


def check_ks(ks: Sequence[int], bank_size: int) -> None:
    """TrainingError unless ``ks`` are distinct positive counts no larger than the bank."""
    if not ks or len(set(ks)) != len(ks) or min(ks) < 1 or max(ks) > bank_size:
        raise TrainingError(f"neighbour counts {list(ks)} must be distinct, 1..{bank_size}")


def fit_neighbour_blend(
    member_probs: np.ndarray, labels: np.ndarray, ks: Sequence[int] = DEFAULT_KS
) -> NeighbourBlend:
    """The blend of least NLL: for each k, w by EM and then T, both minimum NLL on ``labels``.

    ``member_probs`` is (1 + len(ks), faces, classes): the network's, then each k's.
    """
    if not ks or member_probs.shape[0] != 1 + len(ks):
        raise TrainingError(f"expected the network and {len(ks)} (>= 1) neighbour counts")
    best: tuple[float, NeighbourBlend] | None = None
    for i, k in enumerate(ks):
        pair = member_probs[[0, 1 + i]]
        weight = float(fit_member_weights(pair, labels)[0])
        blend = weight * pair[0] + (1 - weight) * pair[1]
        temperature = fit_average_temperature(blend, labels)
        nll = negative_log_likelihood(tempered(blend, temperature), labels)
        if best is None or nll < best[0]:
            best = (nll, NeighbourBlend(i, k, weight, temperature))
    assert best is not None  # ks is not empty (checked above)
    return best[1]


def score_with_neighbours(
    network: LoadedModel,
    extract: Extract,
    bank: tuple[np.ndarray, np.ndarray],
    inputs: np.ndarray,
    sizes: Iterable[int],
    ks: Sequence[int],
) -> dict[int, np.ndarray]:
    """Face size -> (1 + len(ks), faces, classes): the network's probabilities of the faces
    shrunk to that size, then their neighbour votes against the full-size ``bank``."""
    spec = network.preprocessing
    scored = {}
    for px in sizes:
        shrunk = shrink_inputs(inputs, spec, px)
        p_net = network.predict(shrunk)
        features = mirrored_features(extract, shrunk)
        votes = neighbour_votes(features, *bank, ks, p_net.shape[1])
        scored[px] = np.concatenate([p_net[None], votes])
    return scored


def judge_neighbours(
    network: LoadedModel,
    features_path: Path,
    features_spec: Preprocessing,
    load_bank: LoadSplit,
    load_split: LoadSplit,
    sizes: Iterable[int],
    folds: int,
    seed: int,
    ks: Sequence[int] = DEFAULT_KS,
    threads: int = 1,
) -> dict[str, Any]:
    """The network blended with its neighbours, out of fold, against the network alone.

    ``features_path`` is the ONNX graph the features come from (read as ``features_spec``,
    which must be the network's preprocessing); ``load_bank`` reads the labelled bank faces
    (train) and ``load_split`` the judged faces (val). Report: the blend fitted on the whole
    split and each fold's, the neighbours alone per k, and ``comparison`` in ``compare``'s
    format (a = the network alone, b = the out-of-fold blend) with its verdict.
    """
    if features_spec != network.preprocessing:
        raise TrainingError("the feature network must read faces as the judged network does")
    bank_data = load_bank(features_spec)
    check_ks(ks, len(bank_data.labels))  # before the costly feature passes
    extract = feature_extractor(features_path, threads)
    bank = (mirrored_features(extract, bank_data.inputs), np.asarray(bank_data.labels))
    data = load_split(features_spec)
    labels = np.asarray(data.labels)
    sizes = sorted(set(sizes) | {features_spec.size}, reverse=True)
    scored = score_with_neighbours(network, extract, bank, data.inputs, sizes, ks)
    fitted = cross_fit(scored, labels, folds, seed, lambda p, y: fit_neighbour_blend(p, y, ks))
    comparison = paired_report(
        network.name,
        "network + neighbours (out of fold)",
        labels,
        {px: (scored[px][0], fitted.probs[px]) for px in sizes},
    )
    full = scored[sizes[0]]
    return {
        "network": network.name,
        "bank_faces": len(bank[1]),
        "n": len(labels),
        "folds": folds,
        "seed": seed,
        "vote_temperature": VOTE_TEMPERATURE,
        "whole_split_fit": fit_neighbour_blend(full, labels, ks).describe(),
        "fold_fits": [f.describe() for f in fitted.fits],
        "neighbours_alone": {
            str(k): float(np.mean(full[1 + i].argmax(axis=1) == labels)) for i, k in enumerate(ks)
        },
        "comparison": comparison,
        "verdict": shipping_verdict(comparison),
    }
