"""Ensembles inside one ONNX graph: several registered models, one file, mean probabilities.

``python -m training ensemble A B --name NAME`` writes a registered model whose graph feeds the
same input to the members' graphs (every name prefixed ``m0_``, ``m1_``, ...) and returns the
element-wise mean of their probability outputs (ONNX ``Mean``). The engine, the workers and
``python -m inference evaluate`` use it unchanged; its cost is the sum of the members' costs.

Contract: all members take the same preprocessing, except possibly the input size of NCHW
members, and list the same classes in the same order (our exporter's canonical order). Members of
different sizes make a two-resolution average: the ensemble reads faces at its largest member's
size and each smaller member sees them shrunk inside the graph by area resampling
(``training.graph_resizing``, exactly cv2.INTER_AREA). Before it is registered, the ensemble is
checked against the mean of the members on val faces (max abs difference <= 1e-5), and the graph's
shrinking against OpenCV's on the same faces (<= 1e-4 in normalised pixel units), so that the
wiring check does not rest on the nodes it checks.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnx import compose, helper

from inference.emotion import EmotionClassifier
from inference.emotion_preprocessing import preprocess_faces
from inference.evaluation import evaluate_classifier, iter_folder, load_labelled_faces
from inference.model_manifest import ModelManifest, resolve_model, sha256_file
from training.errors import ExportError
from training.export_pipeline import cpu_name
from training.face_size_evaluation import evaluate_face_sizes
from training.graph_resizing import shrink_nodes, shrink_onnx
from training.mirror_tta import run_onnx
from training.model_card import NOT_HELD_OUT, extra_training_data, write_model_files
from training.model_predictors import onnx_predictor
from training.onnx_export import measure_latency

PARITY_TOLERANCE = 1e-5
PARITY_FACES = 512
SHRINK_TOLERANCE = 1e-4


def merged_opsets(models: list[onnx.ModelProto]) -> list[onnx.OperatorSetIdProto]:
    """One import per domain, at the highest version any member uses."""
    versions: dict[str, int] = {}
    for model in models:
        for opset in model.opset_import:
            versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    return [helper.make_opsetid(domain, v) for domain, v in sorted(versions.items())]


def ensemble_graph(
    members: list[onnx.ModelProto], sizes: list[int] | None = None
) -> onnx.ModelProto:
    """One model: the shared input goes to every member; output = mean of theirs.

    ``sizes`` (the members' square NCHW input sizes; all equal when omitted): the input is that
    of the first largest member, and each smaller member gets it shrunk to its size.
    """
    if len(members) < 2:
        raise ExportError("an ensemble needs at least two models")
    sizes = sizes or [0] * len(members)
    largest = sizes.index(max(sizes))
    x, y = members[largest].graph.input[0], members[0].graph.output[0]
    graph = helper.make_graph([], "ensemble", [x], [y])
    outputs = []
    for i, member in enumerate(members):
        if len(member.graph.input) != 1 or len(member.graph.output) != 1:
            raise ExportError(f"member {i} must have exactly one input and one output")
        prefixed = compose.add_prefix(member, f"m{i}_")
        g = prefixed.graph
        inner_x, inner_y = g.input[0].name, g.output[0].name
        member_x = x.name
        if sizes[i] < sizes[largest]:
            member_x = f"m{i}_shrunk_input"
            nodes, weights = shrink_nodes(f"m{i}_", x.name, member_x, sizes[largest], sizes[i])
            graph.node.extend(nodes)
            graph.initializer.extend(weights)
        for node in g.node:
            node.input[:] = [member_x if name == inner_x else name for name in node.input]
        graph.node.extend(g.node)
        graph.initializer.extend(g.initializer)
        # Members' inner shape notes are left out: a mirror member's (made before
        # mirror_tta_graph dropped them) name the doubled batch "batch" too.
        outputs.append(inner_y)
    graph.node.append(helper.make_node("Mean", outputs, [y.name], name="ensemble_mean"))
    model = helper.make_model(graph, opset_imports=merged_opsets(members))
    model.ir_version = max(m.ir_version for m in members)
    onnx.checker.check_model(model)
    return model


def check_members(manifests: list[ModelManifest]) -> None:
    """ExportError unless every member has the first one's preprocessing and classes.

    The input size may differ between NCHW members (see ``ensemble_graph``).
    """
    first = manifests[0]
    for other in manifests[1:]:
        resized = replace(other.preprocessing, size=first.preprocessing.size)
        if resized != first.preprocessing or (
            other.preprocessing.size != first.preprocessing.size
            and first.preprocessing.layout != "NCHW"
        ):
            raise ExportError(
                f"{other.name} takes other inputs than {first.name} "
                f"({other.preprocessing} vs {first.preprocessing})"
            )
        if other.classes != first.classes:
            raise ExportError(f"{other.name} lists its classes in another order than {first.name}")


def largest_member(manifests: list[ModelManifest]) -> ModelManifest:
    """The first member of the largest input size: the ensemble reads faces as it does."""
    return max(manifests, key=lambda m: m.preprocessing.size)


def build_ensemble(
    member_names: list[str], name: str, models_dir: Path, val_dir: Path, command: str
) -> dict[str, Any]:
    """Write ``models_dir/name`` (model, manifest, card); returns its figures.

    Raises ExportError for mismatched members, an existing folder or failed parity.
    """
    resolved = [resolve_model(member, models_dir) for member in member_names]
    manifests = [m for m, _ in resolved]
    check_members(manifests)
    folder = models_dir / name
    if folder.exists():
        raise ExportError(f"{folder} already exists; choose another --name")
    crops, label_list = load_labelled_faces(iter_folder(val_dir))
    labels = np.asarray(label_list)
    sizes = [m.preprocessing.size for m in manifests]
    pre = largest_member(manifests).preprocessing
    inputs = preprocess_faces(crops, pre)
    folder.mkdir(parents=True)
    try:
        path = folder / manifests[0].file
        onnx.save(ensemble_graph([onnx.load(str(p)) for _, p in resolved], sizes), str(path))
        parity = ensemble_parity(path, [p for _, p in resolved], sizes, inputs[:PARITY_FACES])
        manifest = ensemble_manifest(manifests, folder, parity, command)
        (folder / "manifest.json").write_text(manifest.to_json())  # provisional, for the engine
        classifier = EmotionClassifier(name, threads=1, models_dir=models_dir)
        metrics = evaluate_classifier(classifier, crops, labels)
        manifest.training["latency_cpu"] = cpu_name()  # measured here, not where the source was
        manifest.evaluation.update(
            {k: v for k, v in metrics.items() if k != "model"},
            dataset=f"FER-2013 val ({val_dir})",
            latency=measure_latency(path, (pre.channels, pre.size, pre.size)),
            by_face_px=evaluate_face_sizes(
                onnx_predictor(path, manifest.classes), inputs, labels, pre
            ),
        )
        write_model_files(manifest, folder)
    except Exception:
        shutil.rmtree(folder)
        raise
    ev = manifest.evaluation
    return {"model_dir": str(folder), "parity": parity, "evaluation": ev}


def ensemble_parity(path: Path, members: list[Path], sizes: list[int], sample: np.ndarray) -> float:
    """Max abs difference between the ensemble and the mean of its members on ``sample``.

    Each member scores the sample shrunk to its own size (``member_inputs``). Raises
    ExportError above tolerance.
    """
    expected = np.mean(
        [run_onnx(p, member_inputs(sample, size)) for p, size in zip(members, sizes, strict=True)],
        axis=0,
    )
    parity = float(np.abs(run_onnx(path, sample) - expected).max())
    if parity > PARITY_TOLERANCE:
        raise ExportError(f"the ensemble differs from the mean of its members by {parity:.2e}")
    return parity


def member_inputs(sample: np.ndarray, size: int) -> np.ndarray:
    """``sample`` (N, C, S, S) as a member reading ``size`` px sees it inside the ensemble.

    The shrink is run by the graph's own nodes (so that parity compares like with like: an INT8
    member may round a 1e-7 input difference to another level) and checked against
    cv2.INTER_AREA on every face and channel; ExportError beyond SHRINK_TOLERANCE.
    """
    if size == sample.shape[-1]:
        return sample
    shrunk = shrink_onnx(sample, size)
    reference = np.stack(
        [
            [cv2.resize(ch, (size, size), interpolation=cv2.INTER_AREA) for ch in face]
            for face in sample
        ]
    )
    gap = float(np.abs(shrunk - reference).max())
    if gap > SHRINK_TOLERANCE:
        raise ExportError(
            f"the graph shrinks {sample.shape[-1]} px faces to {size} px unlike OpenCV's area "
            f"resampling (max abs difference {gap:.2e})"
        )
    return shrunk


def ensemble_manifest(
    members: list[ModelManifest], folder: Path, parity: float, command: str
) -> ModelManifest:
    """Member 0's manifest, renamed, with the new checksum and the list of members.

    Its preprocessing is that of the largest member: the ensemble reads faces at that size.
    """
    data = json.loads(members[0].to_json())
    data["preprocessing"] = json.loads(largest_member(members).to_json())["preprocessing"]
    data["training"]["ensemble"] = {
        "members": [
            {
                "name": m.name,
                "sha256": m.sha256,
                "accuracy": m.evaluation.get("accuracy"),
                "input_px": m.preprocessing.size,
                "train_extra": extra_training_data(m.training),
            }
            for m in members
        ],
        "parity_max_abs_diff": parity,
        "command": command,
    }
    names = ", ".join(m.name for m in members)
    data.update(
        name=folder.name,
        version="ensemble(" + "+".join(m.version for m in members) + ")",
        sha256=sha256_file(folder / members[0].file),
        description=f"Ensemble of {names}: the mean of their probabilities, inside one graph."
        + (f" {NOT_HELD_OUT}" if extra_training_data(data["training"]) else ""),
        evaluation={"tta_on": members[0].evaluation.get("tta_on", {})},
    )
    return ModelManifest.from_dict(data)
