"""Import the Ultra-Light RFB face detector (MIT) as a fully convolutional ONNX model.

Source: ``version-RFB-640.onnx`` of Linzaer/Ultra-Light-Fast-Generic-Face-Detector-1MB, as
copied into ``../shared/models/ultra-light-face-detector`` with its LICENSE and SHA256SUMS.
That file has a fixed 480x640 input and decodes boxes against priors baked in for that size,
so it cannot see a 20 px face in a 1080p frame without tiling. The import keeps the network and
drops the decoding: the graph's input becomes ``1 x 3 x height x width`` and its outputs are
the face/background softmax (``scores``, 1 x P x 2) and the raw SSD offsets (``locations``,
1 x P x 4); ``inference.ultralight_detector`` generates the priors for any input size whose
sides are multiples of 64 and decodes in NumPy. The weights are those of the 640 model (the
320 model's are a separate, weaker training).

The import writes nothing unless the new graph, decoded with our priors, reproduces the
original model's scores and boxes at 480x640 within 1e-4 on seeded test inputs. Output:
``<models>/ultra-light-rfb/model.onnx``, its static INT8 form ``model-int8.onnx`` (the one the
detector runs by default; inference.detector_quantization), ``detector.json`` (source,
licence, sha256s, parity, how the INT8 form was made) and ``LICENSE``. Conversion and
quantization are deterministic, so the committed files are reproducible.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from inference.detector_quantization import (
    DEFAULT_CALIBRATION,
    CalibrationError,
    quantize_detector,
)

MODEL_NAME = "ultra-light-rfb"
SOURCE_FILE = "version-RFB-640.onnx"
SOURCE_SHA256 = "8f4c659275977e7a3bfbfa339a9c769ad793df50f9c0baa8c14b11baa1646430"
SOURCE_COMMIT = "dffdddda9794a50607cba8f318507a28c1c27cab"
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared/models/ultra-light-face-detector"
PARITY_TOLERANCE = 1e-4
# Tensors of the original graph just before its box decoding: the face/background softmax
# and the concatenated location offsets of the four heads.
SCORES = "scores"
RAW_LOCATIONS = "460"
INT8_FILE = "model-int8.onnx"


class ModelImportError(RuntimeError):
    """The source is missing, fails its checksum, or the converted graph disagrees."""


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verified_source(source: Path) -> Path:
    """The source model file, checked against the folder's SHA256SUMS and our pinned hash."""
    path = source / SOURCE_FILE
    sums = source / "SHA256SUMS"
    if not path.is_file() or not sums.is_file():
        raise ModelImportError(f"{source} lacks {SOURCE_FILE} or SHA256SUMS")
    listed = {
        line.split()[-1].lstrip("*"): line.split()[0]
        for line in sums.read_text().splitlines()
        if line.strip()
    }
    actual = file_sha256(path)
    if listed.get(SOURCE_FILE) != actual:
        raise ModelImportError(f"{path}: sha256 {actual} does not match SHA256SUMS")
    if actual != SOURCE_SHA256:
        raise ModelImportError(f"{path}: sha256 {actual} is not the pinned {SOURCE_SHA256}")
    return path


def needed_nodes(graph: onnx.GraphProto, outputs: set[str]) -> list[onnx.NodeProto]:
    """The nodes that ``outputs`` depend on, in the graph's (topological) order."""
    producer = {out: node for node in graph.node for out in node.output}
    wanted: set[int] = set()
    stack = list(outputs)
    while stack:
        node = producer.get(stack.pop())
        if node is not None and id(node) not in wanted:
            wanted.add(id(node))
            stack.extend(node.input)
    return [node for node in graph.node if id(node) in wanted]


def convert_graph(original: onnx.ModelProto) -> onnx.ModelProto:
    """The network without box decoding, with a symbolic input size (see module doc)."""
    nodes = needed_nodes(original.graph, {SCORES, RAW_LOCATIONS})
    for node in nodes:
        node.output[:] = ["locations" if out == RAW_LOCATIONS else out for out in node.output]
    used = {name for node in nodes for name in node.input}
    # Initializers stay out of the graph inputs: listed there (the old exporter's habit) they
    # count as overridable, and ONNX Runtime then cannot fold the batch norms into the convs.
    weights = [init for init in original.graph.initializer if init.name in used]
    graph = helper.make_graph(
        nodes,
        "ultra_light_rfb",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, "priors", 2]),
            helper.make_tensor_value_info("locations", TensorProto.FLOAT, [1, "priors", 4]),
        ],
        weights,
    )
    model = helper.make_model(graph, opset_imports=original.opset_import, producer_name="wellbeing")
    model.ir_version = original.ir_version
    onnx.checker.check_model(model)
    return model


def parity_inputs(count: int = 4) -> list[np.ndarray]:
    """Seeded 480x640 inputs in the model's normalisation: smooth blobs, not flat noise."""
    rng = np.random.default_rng(20261203)
    inputs = []
    for _ in range(count):
        small = rng.uniform(-1.0, 1.0, size=(3, 30, 40)).astype(np.float32)
        big = np.kron(small, np.ones((16, 16), dtype=np.float32))
        inputs.append(big[None] + rng.normal(0, 0.05, size=(1, 3, 480, 640)).astype(np.float32))
    return inputs


def measure_parity(original: Path, converted: bytes) -> float:
    """Max |difference| of scores and decoded boxes between the two graphs at 480x640."""
    import onnxruntime as ort

    from inference.ultralight_detector import decode_boxes, generate_priors

    old = ort.InferenceSession(str(original), providers=["CPUExecutionProvider"])
    new = ort.InferenceSession(converted, providers=["CPUExecutionProvider"])
    priors = generate_priors(640, 480)
    worst = 0.0
    for x in parity_inputs():
        old_scores, old_boxes = old.run(None, {"input": x})
        scores, locations = new.run(None, {"input": x})
        boxes = decode_boxes(locations[0], priors)
        worst = max(worst, float(np.abs(old_scores - scores).max()))
        worst = max(worst, float(np.abs(old_boxes[0] - boxes).max()))
    return worst


def import_ultralight(
    models_dir: Path, source: Path = DEFAULT_SOURCE, calibration: Path = DEFAULT_CALIBRATION
) -> dict[str, Any]:
    """Convert, check parity, quantize and write the model folder; returns detector.json.

    Raises ModelImportError (nothing written) when the source is missing or altered, the
    converted graph disagrees with the original beyond PARITY_TOLERANCE, or there are no
    calibration photos for the INT8 model (inference.detector_quantization).
    """
    path = verified_source(source)
    data = convert_graph(onnx.load(str(path))).SerializeToString()
    parity = measure_parity(path, data)
    if parity > PARITY_TOLERANCE:
        raise ModelImportError(f"converted detector differs from the original by {parity:.2e}")
    try:
        int8 = quantize_detector(data, calibration)
    except CalibrationError as exc:
        raise ModelImportError(str(exc)) from exc
    folder = models_dir / MODEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(data)
    (folder / INT8_FILE).write_bytes(int8)
    shutil.copyfile(source / "LICENSE", folder / "LICENSE")
    info = detector_info(hashlib.sha256(data).hexdigest(), parity)
    info["int8"] = int8_info(hashlib.sha256(int8).hexdigest())
    (folder / "detector.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def int8_info(sha256: str) -> dict[str, Any]:
    return {
        "file": INT8_FILE,
        "sha256": sha256,
        "scheme": "ONNX Runtime static quantization, QOperator, per-channel INT8 weights, "
        "UINT8 activations, MinMax ranges; the first two convolutions (full and half input "
        "resolution, 3 and 16 channels) stay FP32, where INT8 is slower",
        "calibration": "every photo of ../shared/testdata/faces at 100% and 35% "
        "(not the classroom photos that bench/classroom scores)",
    }


def detector_info(sha256: str, parity: float) -> dict[str, Any]:
    return {
        "name": MODEL_NAME,
        "converter": f"python -m inference models import {MODEL_NAME} [--source DIR]",
        "file": "model.onnx",
        "sha256": sha256,
        "source": (
            f"Linzaer/Ultra-Light-Fast-Generic-Face-Detector-1MB@{SOURCE_COMMIT}: "
            f"models/onnx/{SOURCE_FILE} (../shared/models/ultra-light-face-detector)"
        ),
        "source_sha256": SOURCE_SHA256,
        "licence": "MIT (c) 2019 linzai; LICENSE in this folder",
        "input": "input: 1 x 3 x H x W float32 RGB, (x - 127) / 128; H, W multiples of 64",
        "output": "scores: 1 x P x 2 softmax (background, face); locations: 1 x P x 4 SSD "
        "offsets (centre variance 0.1, size variance 0.2) against the priors of "
        "inference.ultralight_detector.generate_priors",
        "parity": {"max_abs_diff": float(f"{parity:.2e}"), "tolerance": PARITY_TOLERANCE},
    }
