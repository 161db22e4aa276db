"""Rebuild a PyTorch module from a registered ONNX model that this pipeline exported.

Grad-CAM needs gradients, which onnxruntime does not give, and the checkpoint of a shipped model
usually stays in an ignored run folder. The manifest records the family, width and dropout, and
the ONNX file holds every weight, so the module can be rebuilt: the exporter folded each
batch-norm into the convolution before it, so the rebuilt model gets biased convolutions and
identity batch-norms, and the weights are copied in execution order. The result is checked
against onnxruntime (max abs difference <= 1e-4) before it is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from inference.model_manifest import CANONICAL_CLASSES, ModelManifest
from training.model_zoo import build_model
from training.onnx_export import PARITY_TOLERANCE, WithSoftmax

PARITY_INPUTS = 8


def fuse_conv_batchnorm(model: nn.Module) -> nn.Module:
    """In every nn.Sequential, turn each Conv2d + BatchNorm2d pair into a biased Conv2d + Identity.

    Mirrors what the ONNX exporter does in eval mode; the weights are filled in afterwards.
    """
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                seq[i] = nn.Conv2d(
                    conv.in_channels,
                    conv.out_channels,
                    conv.kernel_size,  # type: ignore[arg-type]
                    conv.stride,  # type: ignore[arg-type]
                    conv.padding,  # type: ignore[arg-type]
                    groups=conv.groups,
                    bias=True,
                )
                seq[i + 1] = nn.Identity()
    return model


def execution_order(model: nn.Module, shape: tuple[int, int, int]) -> list[nn.Module]:
    """Conv2d, Linear and BatchNorm1d modules in the order a forward pass runs them."""
    order: list[nn.Module] = []
    kinds = (nn.Conv2d, nn.Linear, nn.BatchNorm1d)
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
        for m in model.modules()
        if isinstance(m, kinds)
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(2, *shape))
    for h in hooks:
        h.remove()
    return order


def onnx_weight_nodes(path: Path) -> list[tuple[str, list[np.ndarray]]]:
    """(op type, [initializer arrays]) of every Conv, Gemm and BatchNormalization, graph order."""
    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes = []
    for node in graph.node:
        # The exporter shares equal initializers (e.g. zero biases) through Identity nodes.
        if node.op_type == "Identity" and node.input[0] in inits:
            inits[node.output[0]] = inits[node.input[0]]
        if node.op_type in ("Conv", "Gemm", "BatchNormalization"):
            nodes.append((node.op_type, [inits[name] for name in node.input[1:] if name in inits]))
    return nodes


def copy_weights(module: nn.Module, op: str, arrays: list[np.ndarray]) -> bool:
    """Copy one ONNX node's weights into ``module``; False when kinds or shapes do not match."""
    tensors = [torch.from_numpy(a.copy()) for a in arrays]
    if isinstance(module, nn.BatchNorm1d) and op == "BatchNormalization" and len(tensors) == 4:
        targets = [module.weight, module.bias, module.running_mean, module.running_var]
    elif isinstance(module, nn.Conv2d) and op == "Conv" and len(tensors) == 2:
        targets = [module.weight, module.bias]
    elif isinstance(module, nn.Linear) and op == "Gemm" and len(tensors) == 2:
        targets = [module.weight, module.bias]  # exported with transB = 1: (out, in)
    else:
        return False
    if any(t is None or t.shape != v.shape for t, v in zip(targets, tensors, strict=True)):
        return False
    with torch.no_grad():
        for target, value in zip(targets, tensors, strict=True):
            assert target is not None
            target.copy_(value)
    return True


def max_difference(model: nn.Module, path: Path, shape: tuple[int, int, int]) -> float:
    """Max abs difference of probabilities, rebuilt module vs onnxruntime, on random inputs."""
    from training.model_predictors import onnx_session

    x = np.random.default_rng(0).standard_normal((PARITY_INPUTS, *shape)).astype(np.float32)
    session = onnx_session(path)
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        actual = WithSoftmax(model).eval()(torch.from_numpy(x)).numpy()
    return float(np.abs(expected - actual).max())


def module_from_onnx(manifest: ModelManifest, path: Path) -> nn.Module | None:
    """The PyTorch module equivalent to ``path``, or None when it cannot be rebuilt exactly.

    None for models this pipeline did not export (no ``training.model`` in the manifest), for
    class orders other than the canonical one, and whenever the parity check fails.
    """
    spec = manifest.training.get("model") if isinstance(manifest.training, dict) else None
    pre = manifest.preprocessing
    if not isinstance(spec, dict) or "family" not in spec or pre.layout != "NCHW":
        return None
    if tuple(manifest.classes) != CANONICAL_CLASSES:
        return None  # Grad-CAM targets are canonical indices
    try:
        model = build_model(spec["family"], pre.channels, spec["width"], spec["dropout"])
    except Exception:  # an unknown family or width: not ours to rebuild
        return None
    shape = (pre.channels, pre.size, pre.size)
    modules = execution_order(fuse_conv_batchnorm(model), shape)
    nodes = onnx_weight_nodes(path)
    if len(modules) != len(nodes):
        return None
    if not all(copy_weights(m, op, arrays) for m, (op, arrays) in zip(modules, nodes, strict=True)):
        return None
    if max_difference(model, path, shape) > PARITY_TOLERANCE:
        return None
    return model.eval()
