"""Trainable weights from a shipped ONNX model: fine-tuning without the original checkpoint.

Checkpoints live in a run folder outside the repository, and the machines here do not keep that
folder from one working session to the next; the shipped ONNX file is the one copy of a trained
model that survives. ``training.onnx_weights`` rebuilds it with every batch-norm folded into the
convolution before it, which is exact for inference but leaves nothing to normalise with during
training. This module puts the batch-norms back:

For a folded convolution ``y = W*x + b`` the restored pair is ``conv(W)`` followed by a
batch-norm with running mean ``mu`` and variance ``var`` measured on real faces (the per-channel
statistics of ``W*x``), weight ``sqrt(var + eps)`` and bias ``mu + b``. In eval mode that pair
computes exactly ``W*x + b``; in training mode, where batch statistics replace the running ones,
it computes nearly the same thing because the statistics came from the same data. The result is
checked against the folded module (max abs difference of probabilities <= PARITY_TOLERANCE).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inference.model_manifest import Preprocessing
from training.errors import CheckpointError
from training.onnx_export import PARITY_TOLERANCE, WithSoftmax

STATS_BATCH = 256


def folded_pairs(plain: nn.Module) -> list[tuple[str, nn.Conv2d, nn.BatchNorm2d]]:
    """(name of the conv, conv, batch-norm) for every Conv2d + BatchNorm2d pair of ``plain``.

    Names match those of the folded module, because folding replaces modules in place.
    """
    pairs = []
    for seq_name, seq in plain.named_modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                pairs.append((f"{seq_name}.{i}" if seq_name else str(i), conv, bn))
    return pairs


def conv_statistics(
    folded: nn.Module, names: list[str], faces: torch.Tensor
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-channel mean and (biased) variance of each named conv's output before its bias."""
    modules = dict(folded.named_modules())
    sums: dict[str, list[torch.Tensor]] = {}

    def record(name: str, conv: nn.Conv2d, out: torch.Tensor) -> None:
        assert conv.bias is not None
        pre = (out - conv.bias.view(1, -1, 1, 1)).double()
        count = torch.tensor(float(pre.shape[0] * pre.shape[2] * pre.shape[3]))
        part = [pre.sum((0, 2, 3)), (pre * pre).sum((0, 2, 3)), count]
        sums[name] = (
            [a + b for a, b in zip(sums[name], part, strict=True)] if name in sums else part
        )

    hooks = [modules[n].register_forward_hook(lambda m, _i, o, n=n: record(n, m, o)) for n in names]
    with torch.no_grad():
        for start in range(0, len(faces), STATS_BATCH):
            folded.eval()(faces[start : start + STATS_BATCH])
    for h in hooks:
        h.remove()
    stats = {}
    for name, (total, squares, count) in sums.items():
        mean = total / count
        stats[name] = (mean.float(), (squares / count - mean * mean).clamp_min(0).float())
    return stats


def restore_batchnorm(folded: nn.Module, plain: nn.Module, faces: np.ndarray) -> nn.Module:
    """Fill ``plain`` (same architecture, batch-norms intact) from ``folded``; returns ``plain``.

    ``faces``: preprocessed training inputs (N, C, S, S), a few thousand are plenty. Raises
    CheckpointError when the architectures differ or the restored model disagrees with
    ``folded``.
    """
    pairs = folded_pairs(plain)
    modules = dict(folded.named_modules())
    for name, _, _ in pairs:
        if not isinstance(modules.get(name), nn.Conv2d) or modules[name].bias is None:
            raise CheckpointError(f"{name} was not folded; cannot restore its batch-norm")
    inputs = torch.from_numpy(faces)
    stats = conv_statistics(folded, [name for name, _, _ in pairs], inputs)
    source = folded.state_dict()
    own = plain.state_dict()
    shared = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    plain.load_state_dict(shared, strict=False)
    with torch.no_grad():
        for name, _conv, bn in pairs:
            bias = modules[name].bias
            assert bias is not None  # checked above
            mean, var = stats[name]
            assert bn.running_mean is not None and bn.running_var is not None
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.copy_(mean + bias)
    restate_batchnorm1d(plain, inputs)
    check_parity(folded, plain, inputs[:STATS_BATCH])
    return plain


def restate_batchnorm1d(plain: nn.Module, inputs: torch.Tensor) -> None:
    """Give each BatchNorm1d running statistics of ``inputs`` without changing what it computes.

    ONNX keeps these unfolded with the statistics of the original training data; training mode
    would swap those for batch statistics of other data. ``g*(x-m)/s + b`` is rewritten with the
    measured mean ``mu`` and std ``t`` as ``g*t/s * (x-mu)/t + b + g*(mu-m)/s``. Runs the
    layers one after another, because each one's input depends on the layers before it.
    """
    for bn in [m for m in plain.modules() if isinstance(m, nn.BatchNorm1d)]:
        seen: list[torch.Tensor] = []
        hook = bn.register_forward_hook(lambda _m, i, _o, seen=seen: seen.append(i[0].double()))
        with torch.no_grad():
            for start in range(0, len(inputs), STATS_BATCH):
                plain.eval()(inputs[start : start + STATS_BATCH])
        hook.remove()
        x = torch.cat(seen)
        mu, var = x.mean(0), x.var(0, unbiased=False)
        assert bn.running_mean is not None and bn.running_var is not None
        old_std = torch.sqrt(bn.running_var.double() + bn.eps)
        new_std = torch.sqrt(var + bn.eps)
        gain = bn.weight.double() / old_std
        with torch.no_grad():
            bn.bias.copy_(bn.bias.double() + gain * (mu - bn.running_mean.double()))
            bn.weight.copy_(gain * new_std)
            bn.running_mean.copy_(mu)
            bn.running_var.copy_(var)


def check_parity(
    folded: nn.Module,
    plain: nn.Module,
    inputs: torch.Tensor,
    what: str = "restored model differs from the ONNX model",
) -> None:
    """Raise CheckpointError (starting with ``what``) when the two modules' probabilities
    (eval mode) differ by more than PARITY_TOLERANCE on ``inputs``."""
    with torch.no_grad():
        expected = WithSoftmax(folded).eval()(inputs)
        actual = WithSoftmax(plain).eval()(inputs)
    difference = float((expected - actual).abs().max())
    if difference > PARITY_TOLERANCE:
        raise CheckpointError(
            f"{what} by {difference:.2e} (> {PARITY_TOLERANCE}); not writing weights"
        )


def sample_faces(folder: Path, layout: str, spec: Preprocessing, count: int, seed: int) -> Any:
    """``count`` preprocessed faces drawn at random (fixed seed) from a folder-per-class split."""
    from training.dataset_loaders import list_class_folders, preprocess_files

    paths, _, _ = list_class_folders(folder, layout)
    picked = np.random.default_rng(seed).permutation(len(paths))[:count]
    return preprocess_files([paths[i] for i in sorted(picked)], spec)


def weights_from_onnx(
    name: str,
    models: Path,
    data: Path,
    out: Path,
    count: int = 4096,
    seed: int = 0,
    width: float | None = None,
) -> dict[str, Any]:
    """Write a trainable state_dict of registered model ``name`` to ``out`` (torch.save).

    The file serves ``[model] pretrained`` in a training config. With ``width`` (wider than the
    model's own) the weights are those of the wider network of the same family that computes
    the same function (``training.network_widening``; seeded by ``seed``). Raises
    CheckpointError when the model was not exported by this pipeline, cannot be rebuilt
    exactly, or cannot be widened exactly.
    """
    from inference.model_manifest import resolve_model
    from training.model_zoo import build_model
    from training.onnx_weights import module_from_onnx

    manifest, path = resolve_model(name, models)
    folded = module_from_onnx(manifest, path)
    spec = manifest.training.get("model") if isinstance(manifest.training, dict) else None
    if folded is None or not isinstance(spec, dict):
        raise CheckpointError(f"{name} cannot be rebuilt exactly (not exported by this pipeline)")
    pre = manifest.preprocessing
    plain = build_model(spec["family"], pre.channels, spec["width"], spec["dropout"])
    faces = sample_faces(data, "fer-folder", pre, count, seed)
    restore_batchnorm(folded, plain, faces)
    result = {"model": name, "weights": str(out), "faces": len(faces), **spec}
    if width is not None and width != spec["width"]:
        plain = widened(plain, spec, pre.channels, width, seed, torch.from_numpy(faces))
        result |= {"width": width, "widened_from": spec["width"], "widening_seed": seed}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(plain.state_dict(), out)
    return result


def widened(
    plain: nn.Module, spec: dict[str, Any], channels: int, width: float, seed: int, faces: Any
) -> nn.Module:
    """The wider network computing what ``plain`` computes, checked on ``faces``."""
    from training.model_zoo import build_model
    from training.network_widening import widen_resnet

    if spec["family"] != "resnet":
        raise CheckpointError(
            f"widening is implemented for the resnet family, not {spec['family']}"
        )
    wide = widen_resnet(plain, build_model("resnet", channels, width, spec["dropout"]), seed)
    check_parity(plain, wide, faces[:STATS_BATCH], "widened model differs from the trained one")
    return wide
