"""Weighted averages of ensemble members, weights fitted on labelled faces (``weigh-members``).

Until the twenty-fifth session every average gave its members equal weights. Here the weights
are the ones that maximise the likelihood of the labels under the mixture ``sum_m w_m p_m``
(non-negative, summing to one). The log-likelihood is concave in ``w``, and the EM update for
mixture weights (``fit_member_weights``) never lowers it, so it converges to the best weights.

A second, more flexible combiner (``fit_stacker``): a multinomial logistic regression on the
members' concatenated log-probabilities, which can also move a class that all members confuse.

Val is the only split none of our members trained on, so a combiner is fitted there, which makes
its val accuracy optimistic. ``cross_fit`` reads it out of fold instead: each fold's faces are
scored by the combiner fitted on the other folds only, so every face's prediction comes from a
fit that never saw it. That out-of-fold figure is what a pre-registered rule judges; a shipped
graph would then take the fit on all of val.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from inference.model_manifest import Preprocessing
from training.errors import TrainingError
from training.face_size_evaluation import shrink_inputs
from training.model_comparison import paired_report, shipping_verdict
from training.model_predictors import LoadedModel
from training.temperature_scaling import fit_temperature, negative_log_likelihood

LoadSplit = Callable[[Preprocessing], Any]  # a preprocessing -> FaceDataset of the split

EM_TOLERANCE = 1e-10
EM_MAX_STEPS = 10_000
STACKER_L2 = 1e-3  # pre-registered (docs/training.md, twenty-fifth session); never tuned on val


class Combiner(Protocol):
    """A fitted rule turning (members, faces, classes) probabilities into (faces, classes)."""

    def __call__(self, member_probs: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class WeightedAverage:
    """``tempered(sum_m weights[m] * p_m, temperature)``."""

    weights: np.ndarray
    temperature: float

    def __call__(self, member_probs: np.ndarray) -> np.ndarray:
        return tempered(weighted_average(member_probs, self.weights), self.temperature)

    def describe(self) -> dict[str, Any]:
        return {
            "weights": [round(float(w), 6) for w in self.weights],
            "temperature": round(self.temperature, 4),
        }


@dataclass(frozen=True)
class Stacker:
    """``softmax(concat_m log p_m @ matrix + bias)``: matrix (members * classes, classes)."""

    matrix: np.ndarray
    bias: np.ndarray

    def __call__(self, member_probs: np.ndarray) -> np.ndarray:
        logits = stacked_features(member_probs) @ self.matrix + self.bias
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def describe(self) -> dict[str, Any]:
        classes = self.matrix.shape[1]
        blocks = self.matrix.reshape(-1, classes, classes)
        return {
            # each member's share of the evidence: its block's diagonal, mean over classes
            "member_diagonals": [round(float(np.mean(np.diag(b))), 4) for b in blocks],
            "bias": [round(float(b), 4) for b in self.bias],
        }


FitCombiner = Callable[[np.ndarray, np.ndarray], Combiner]


@dataclass(frozen=True)
class CrossFit:
    """Out-of-fold figures: every face scored by a combiner fitted without its fold.

    ``fits`` holds each fold's combiner; ``probs`` maps a face size (px) to the (faces,
    classes) out-of-fold probabilities.
    """

    fold: np.ndarray
    fits: list[Combiner]
    probs: dict[int, np.ndarray]


def check_member_probs(member_probs: np.ndarray, labels: np.ndarray) -> None:
    """TrainingError unless ``member_probs`` is (members >= 2, faces, classes) for ``labels``."""
    if member_probs.ndim != 3 or member_probs.shape[0] < 2:
        raise TrainingError("weighing needs the probabilities of at least two members")
    if member_probs.shape[1] != len(labels) or len(labels) == 0:
        raise TrainingError(f"{member_probs.shape[1]} faces scored for {len(labels)} labels")


def fit_member_weights(member_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mixture weights (members,) maximising the mean log-likelihood of ``labels``.

    ``member_probs`` is (members, faces, classes). EM: each step sets ``w_m`` to the mean over
    faces of member m's share of the mixture's probability of the true label; it starts from
    equal weights and stops when no weight moves by more than EM_TOLERANCE.
    """
    check_member_probs(member_probs, labels)
    right = np.clip(member_probs[:, np.arange(len(labels)), labels], 1e-12, None).astype(np.float64)
    weights = np.full(len(right), 1.0 / len(right))
    for _ in range(EM_MAX_STEPS):
        share = weights[:, None] * right
        updated = (share / share.sum(axis=0)).mean(axis=1)
        done = np.abs(updated - weights).max() < EM_TOLERANCE
        weights = updated
        if done:
            break
    return weights


def weighted_average(member_probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(faces, classes): ``sum_m weights[m] * member_probs[m]``."""
    return np.tensordot(weights, member_probs, axes=1)


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probs) / T)``, as ``calibrate`` scales an averaged output (T = 1: probs)."""
    logits = np.log(np.clip(probs, 1e-12, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_average_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the NLL of ``tempered(probs, T)``."""
    return fit_temperature(lambda t: negative_log_likelihood(tempered(probs, t), labels))


def fit_weighted_average(member_probs: np.ndarray, labels: np.ndarray) -> WeightedAverage:
    """Mixture weights by EM, then the temperature of their average (both minimum NLL)."""
    weights = fit_member_weights(member_probs, labels)
    average = weighted_average(member_probs, weights)
    return WeightedAverage(weights, fit_average_temperature(average, labels))


def stacked_features(member_probs: np.ndarray) -> np.ndarray:
    """(faces, members * classes): each face's members' log-probabilities side by side."""
    logs = np.log(np.clip(member_probs, 1e-12, None))
    return logs.transpose(1, 0, 2).reshape(logs.shape[1], -1)


def fit_stacker(member_probs: np.ndarray, labels: np.ndarray) -> Stacker:
    """Multinomial logistic regression on ``stacked_features``, minimum mean NLL + STACKER_L2 x
    the sum of the squared matrix entries (the bias is not penalised), by L-BFGS in float64.

    Starts from the equal-weight log-linear pool: each member's block the identity over the
    number of members, no bias.
    """
    import torch  # the training extra's; only this combiner needs it

    check_member_probs(member_probs, labels)
    members, _, classes = member_probs.shape
    x = torch.from_numpy(stacked_features(member_probs)).double()
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    start = np.tile(np.eye(classes) / members, (members, 1))
    matrix = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [matrix, bias], max_iter=1000, tolerance_grad=1e-10, line_search_fn="strong_wolfe"
    )

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = torch.nn.functional.cross_entropy(x @ matrix + bias, y)
        value = value + STACKER_L2 * (matrix**2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    return Stacker(matrix.detach().numpy(), bias.detach().numpy())


COMBINERS: dict[str, FitCombiner] = {"weighted": fit_weighted_average, "stacked": fit_stacker}


def fold_of_each_face(faces: int, folds: int, seed: int) -> np.ndarray:
    """(faces,) fold numbers: a seeded random order cut into ``folds`` near-equal parts."""
    if not 2 <= folds <= faces:
        raise TrainingError(f"cannot cut {faces} faces into {folds} folds")
    fold = np.empty(faces, dtype=np.int64)
    fold[np.random.default_rng(seed).permutation(faces)] = np.arange(faces) % folds
    return fold


def cross_fit(
    member_probs_by_px: dict[int, np.ndarray],
    labels: np.ndarray,
    folds: int,
    seed: int,
    fit: FitCombiner = fit_weighted_average,
) -> CrossFit:
    """Out-of-fold combined probabilities; each fold's combiner fitted at the largest size.

    ``member_probs_by_px`` maps a face size to (members, faces, classes) probabilities of the
    same faces; the smaller sizes are scored by the combiner fitted at the largest, as the
    shipped graph would use it.
    """
    full = member_probs_by_px[max(member_probs_by_px)]
    check_member_probs(full, labels)
    fold = fold_of_each_face(len(labels), folds, seed)
    fits: list[Combiner] = []
    probs = {px: np.zeros(p.shape[1:]) for px, p in member_probs_by_px.items()}
    for k in range(folds):
        fits.append(fit(full[:, fold != k], labels[fold != k]))
        for px, member_probs in member_probs_by_px.items():
            probs[px][fold == k] = fits[k](member_probs[:, fold == k])
    return CrossFit(fold, fits, probs)


def largest_input(models: list[LoadedModel]) -> Preprocessing:
    """The preprocessing of the first member of the largest input: the average reads faces so."""
    return max((m.preprocessing for m in models), key=lambda p: p.size)


def score_members(
    members: list[LoadedModel], inputs: np.ndarray, spec: Preprocessing, sizes: Iterable[int]
) -> dict[int, np.ndarray]:
    """Face size -> (members, faces, classes) as each member sees the faces inside one graph.

    ``inputs`` are the faces read at ``spec`` (the largest member's); a smaller member gets them
    shrunk as the ensemble graph shrinks them (``ensemble_graph.member_inputs``).
    """
    from training.ensemble_graph import member_inputs  # loads onnx graph tools: on use only

    scored = {}
    for px in sizes:
        shrunk = shrink_inputs(inputs, spec, px)
        scored[px] = np.stack(
            [m.predict(member_inputs(shrunk, m.preprocessing.size)) for m in members]
        )
    return scored


def weigh_members(
    members: list[LoadedModel],
    baseline: LoadedModel,
    load_split: LoadSplit,
    sizes: Iterable[int],
    folds: int,
    seed: int,
    combiner: str = "weighted",
) -> dict[str, Any]:
    """The combined members' out-of-fold figures against ``baseline``, and the verdict.

    ``combiner`` names a COMBINERS entry. Report: the combiner fitted on the whole split (what a
    built graph would take) and each fold's, each member's accuracy alone and the equal-weight
    average's (by face size), and ``comparison`` in ``compare``'s format (a = baseline, b = the
    out-of-fold combination).
    The verdict is the shipping rule's plus one condition: no member alone may score more.
    Raises TrainingError for a member that is not a registered model or that takes other
    inputs or classes than the first (the checks of ``ensemble``).
    """
    check_weighable(members)
    if combiner not in COMBINERS:
        raise TrainingError(f"unknown combiner {combiner!r}; expected one of {sorted(COMBINERS)}")
    fit = COMBINERS[combiner]
    spec = largest_input(members)
    data = load_split(spec)
    labels = np.asarray(data.labels)
    sizes = sorted(set(sizes) | {spec.size}, reverse=True)
    scored = score_members(members, data.inputs, spec, sizes)
    fitted = cross_fit(scored, labels, folds, seed, fit)
    base_data = data if baseline.preprocessing == spec else load_split(baseline.preprocessing)
    if base_data.labels.tolist() != labels.tolist():
        raise TrainingError("the split gave the baseline other labels; weigh on a fixed split")
    base_probs = {
        px: baseline.predict(shrink_inputs(base_data.inputs, baseline.preprocessing, px))
        for px in sizes
    }
    comparison = paired_report(
        baseline.name,
        f"{combiner} combination (out of fold)",
        labels,
        {px: (base_probs[px], fitted.probs[px]) for px in sizes},
    )
    report = weighing_figures(members, scored, labels, fitted, fit(scored[sizes[0]], labels))
    report.update(combiner=combiner, folds=folds, seed=seed)
    full_b = comparison["by_face_px"][str(sizes[0])]["accuracy_b"]
    verdict = best_member_condition(shipping_verdict(comparison), full_b, report["members_alone"])
    return {**report, "comparison": comparison, "verdict": verdict}


def check_weighable(members: list[LoadedModel]) -> None:
    """TrainingError unless the members could be joined by ``ensemble`` (registered, alike)."""
    from training.ensemble_graph import check_members

    manifests = [m.manifest for m in members]
    if len(members) < 2:
        raise TrainingError("weighing needs at least two members")
    missing = [m.name for m, manifest in zip(members, manifests, strict=True) if manifest is None]
    if missing:
        raise TrainingError(f"not registered models (export them first): {', '.join(missing)}")
    check_members([m for m in manifests if m is not None])


def best_member_condition(
    verdict: dict[str, Any], accuracy: float, members_alone: dict[str, float]
) -> dict[str, Any]:
    """``verdict`` with the weighing's extra condition: a combination scoring ``accuracy`` at
    full size does not meet the rule when one of its members alone scores more."""
    best = max(members_alone.values())
    if accuracy >= best:
        return verdict
    reason = f"{accuracy:.4f} is below its best member alone ({best:.4f})"  # a face is 0.0003
    return {**verdict, "meets_rule": False, "reasons": [*verdict["reasons"], reason]}


def weighing_figures(
    members: list[LoadedModel],
    scored: dict[int, np.ndarray],
    labels: np.ndarray,
    fitted: CrossFit,
    whole: Combiner,
) -> dict[str, Any]:
    """The fits (whole split, each fold), members alone, equal weights: the report's body."""
    full = scored[max(scored)]

    def accuracy(probs: np.ndarray) -> float:
        return float(np.mean(probs.argmax(axis=1) == labels))

    equal = np.full(len(members), 1.0 / len(members))
    return {
        "members": [m.name for m in members],
        "n": len(labels),
        "whole_split_fit": whole.describe(),
        "fold_fits": [f.describe() for f in fitted.fits],
        "members_alone": {m.name: accuracy(full[i]) for i, m in enumerate(members)},
        "equal_weights": {
            str(px): accuracy(weighted_average(p, equal)) for px, p in scored.items()
        },
        "in_sample": {str(px): accuracy(whole(p)) for px, p in scored.items()},
    }
