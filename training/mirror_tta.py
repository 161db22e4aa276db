"""Mirror test-time augmentation baked into a registered ONNX emotion model.

``python -m training mirror-tta SOURCE --name NAME`` writes a new registered model whose graph
scores every face twice, as given and mirrored left-right, and returns the mean of the two
probability vectors. The weights are the source model's, unchanged; only the graph around them
grows (a Slice that mirrors the width axis, a Concat along the batch, and a mean over the two
halves of the output). Because the averaging is inside the ONNX file, the engine, the workers
and ``python -m inference evaluate`` all get it without any code path of their own.

Cost: two forward passes per face. Contract: the source model's output must be probabilities
(our exporter ends every graph with Softmax); the new model is checked against the mean of the
source model on the faces and their mirror images before it is written (max abs difference).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from inference.emotion import EmotionClassifier
from inference.emotion_preprocessing import preprocess_faces
from inference.evaluation import evaluate_classifier, iter_folder, load_labelled_faces
from inference.model_manifest import ModelManifest, resolve_model, sha256_file
from training.errors import ExportError
from training.export_pipeline import cpu_name
from training.face_size_evaluation import evaluate_face_sizes
from training.model_card import NOT_HELD_OUT, extra_training_data, write_model_files
from training.model_predictors import onnx_predictor
from training.onnx_export import measure_latency, quantize_int8

PARITY_TOLERANCE = 1e-5
CALIBRATION_FACES = 512
CALIBRATION_SEED = 1337
INT64_MIN = -(2**63)


def width_axis(layout: str) -> int:
    """Index of the image width axis in the model input for ``layout`` ("NCHW" or "NHWC")."""
    return {"NCHW": 3, "NHWC": 2}[layout]


def mirror_tta_graph(model: onnx.ModelProto, axis: int) -> onnx.ModelProto:
    """A copy of ``model`` that outputs mean(model(x), model(mirror(x))) for input x.

    The original nodes run once on the batch [x; mirror(x)] (twice the batch size), so the
    model keeps its single input and output names, dtypes and dynamic batch dimension.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    x, y = graph.input[0].name, graph.output[0].name
    classes = graph.output[0].type.tensor_type.shape.dim[1].dim_value
    both, scores, halves = "tta_both_views", "tta_scores", "tta_halves"
    for node in graph.node:
        node.input[:] = [both if name == x else name for name in node.input]
        node.output[:] = [scores if name == y else name for name in node.output]
    graph.initializer.extend(
        [
            helper.make_tensor("tta_starts", TensorProto.INT64, [1], [-1]),
            helper.make_tensor("tta_ends", TensorProto.INT64, [1], [INT64_MIN]),
            helper.make_tensor("tta_axes", TensorProto.INT64, [1], [axis]),
            helper.make_tensor("tta_steps", TensorProto.INT64, [1], [-1]),
            helper.make_tensor("tta_shape", TensorProto.INT64, [3], [2, -1, classes]),
        ]
    )
    before = [
        helper.make_node(
            "Slice", [x, "tta_starts", "tta_ends", "tta_axes", "tta_steps"], ["tta_mirror"]
        ),
        helper.make_node("Concat", [x, "tta_mirror"], [both], axis=0),
    ]
    after = [
        helper.make_node("Reshape", [scores, "tta_shape"], [halves]),
        helper.make_node("ReduceMean", [halves], [y], axes=[0], keepdims=0),
    ]
    nodes = [*before, *graph.node, *after]
    del graph.node[:]
    graph.node.extend(nodes)
    # The exporter's shape notes call every inner tensor's first axis "batch", the input's
    # name, but inside they hold twice the batch: ONNX Runtime then warned about a shape
    # mismatch on every call (in each worker's log). It infers the shapes itself.
    del graph.value_info[:]
    onnx.checker.check_model(out)
    return out


def run_onnx(path: Path, inputs: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: inputs})[0])


def mirror_parity(source: Path, derived: Path, inputs: np.ndarray, axis: int) -> float:
    """Max abs difference between ``derived(x)`` and the mean of ``source`` on x and mirror(x)."""
    expected = (run_onnx(source, inputs) + run_onnx(source, np.flip(inputs, axis).copy())) / 2
    return float(np.abs(run_onnx(derived, inputs) - expected).max())


def derive_mirror_tta_model(
    source_name: str,
    name: str,
    models_dir: Path,
    val_dir: Path,
    command: str,
    int8_train_dir: Path | None = None,
) -> dict[str, Any]:
    """Write ``models_dir/name`` (model, manifest, card) from ``source_name``; returns figures.

    With ``int8_train_dir`` the source is first quantized to static INT8 (QDQ, per-channel),
    calibrated on CALIBRATION_FACES faces of that folder. Evaluates the new model on ``val_dir``
    (folder per class) exactly as ``python -m inference evaluate`` does. Raises ExportError when
    parity fails; the folder is removed then.
    """
    source, source_path = resolve_model(source_name, models_dir)
    folder = models_dir / name
    if folder.exists():
        raise ExportError(f"{folder} already exists; choose another --name")
    folder.mkdir(parents=True)
    try:
        base, int8 = source_path, None
        if int8_train_dir is not None:
            base, int8 = folder / "source.int8.onnx", quantize_source(source, int8_train_dir)
            quantize_int8(source_path, base, int8.pop("calibration"), reduce_range=True)
        report = _write_derived(source, base, folder, val_dir, command, int8)
        if base != source_path:
            base.unlink()
        return report
    except Exception:
        shutil.rmtree(folder)
        raise


def quantize_source(source: ModelManifest, train_dir: Path) -> dict[str, Any]:
    """Calibration inputs (a fixed random subset of ``train_dir``) and their record."""
    crops, _ = load_labelled_faces(iter_folder(train_dir))
    rng = np.random.default_rng(CALIBRATION_SEED)
    idx = np.sort(rng.permutation(len(crops))[:CALIBRATION_FACES])
    calibration = preprocess_faces([crops[i] for i in idx], source.preprocessing)
    return {
        "calibration": calibration,
        "calibration_faces": len(idx),
        "calibration_seed": CALIBRATION_SEED,
        "train": str(train_dir),
        "format": "static QDQ, per-channel int8 weights in 7 bits (reduce_range: no saturation "
        "on CPUs without VNNI), uint8 activations; Softmax and classifier head FP32",
    }


def _write_derived(
    source: ModelManifest,
    source_path: Path,
    folder: Path,
    val_dir: Path,
    command: str,
    int8: dict[str, Any] | None,
) -> dict[str, Any]:
    axis = width_axis(source.preprocessing.layout)
    path = folder / source.file
    onnx.save(mirror_tta_graph(onnx.load(str(source_path)), axis), str(path))
    crops, labels = load_labelled_faces(iter_folder(val_dir))
    parity = mirror_parity(
        source_path, path, preprocess_faces(crops[:512], source.preprocessing), axis
    )
    if parity > PARITY_TOLERANCE:
        raise ExportError(f"mirror model differs from the mean of the source by {parity:.2e}")
    manifest = derived_manifest(source, folder.name, path, parity, command, int8)
    # Provisional manifest (no card yet): evaluation loads the model through the registry.
    (folder / "manifest.json").write_text(manifest.to_json())
    classifier = EmotionClassifier(folder.name, threads=1, models_dir=folder.parent)
    metrics = evaluate_classifier(classifier, crops, labels)
    size = source.preprocessing.size
    shape = (source.preprocessing.channels, size, size)
    inputs = preprocess_faces(crops, source.preprocessing)
    manifest.training["latency_cpu"] = cpu_name()  # measured here, not where the source was
    manifest.evaluation.update(
        {k: v for k, v in metrics.items() if k != "model"},
        dataset=f"FER-2013 val ({val_dir})",
        latency=measure_latency(path, shape),
        by_face_px=evaluate_face_sizes(
            onnx_predictor(path, source.classes), inputs, np.asarray(labels), manifest.preprocessing
        ),
    )
    write_model_files(manifest, folder)
    return {"model_dir": str(folder), "parity": parity, "evaluation": manifest.evaluation}


def derived_manifest(
    source: ModelManifest,
    name: str,
    path: Path,
    parity: float,
    command: str,
    int8: dict[str, Any] | None = None,
) -> ModelManifest:
    """The source manifest, renamed, with the new checksum and a record of the derivation."""
    data = json.loads(source.to_json())
    training = dict(data["training"])
    seen = extra_training_data(training)
    training["mirror_tta"] = {
        "source": source.name,
        "source_sha256": source.sha256,
        "source_accuracy": source.evaluation.get("accuracy"),
        "parity_max_abs_diff": parity,
        "command": command,
        "int8": int8,
    }
    data.update(
        name=name,
        version=f"{source.version}{'+int8' if int8 else ''}+mirror-tta",
        sha256=sha256_file(path),
        description=f"{source.name} with mirror test-time augmentation inside the graph "
        "(mean of the probabilities of each face and its mirror image)."
        + (f" {NOT_HELD_OUT}" if seen else ""),
        evaluation={"tta_on": source.evaluation.get("tta_on", {})},
        training=training,
    )
    return ModelManifest.from_dict(data)
