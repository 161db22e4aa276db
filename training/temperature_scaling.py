"""Temperature scaling inside the ONNX graph: probabilities that mean what they say.

``python -m training calibrate SOURCE --name NAME`` writes a new registered model whose graph
divides the logits by one temperature ``T`` before its Softmax. ``T`` is fitted on the val
split by minimising the negative log-likelihood of the whole graph's output (so for a mirror
model the fit sees the mean of the two views exactly as the engine does). For a one-pass model
the argmax, hence accuracy, does not change; for a mirror model the two views' probabilities
are averaged after the Softmax, so T reweighs them and a few close calls can flip (counted and
re-evaluated: the new manifest's figures are measured on the scaled model). Reported: expected
calibration error (ECE, 15 equal-width bins of the top-class probability) and NLL before and
after, and a reliability diagram PNG.

Contract: the source graph has exactly one Softmax node, the output of our exporter and of
``mirror-tta``, or is an ensemble (``training.ensemble_graph``: its output is the ``Mean`` of its
members' probabilities), whose averaged probabilities are scaled as logits would be:
``softmax(log(p) / T)``, which at T = 1 gives p back. Fitting the same data it is measured on is
the documented recipe (Guo et al. 2017, "On Calibration of Modern Neural Networks"); the
held-back test split is not touched.

A model of a final fit on train+val (``[data] train_extra``) has seen the val faces, so a
temperature fitted on them would leave it overconfident: such a source is refused unless
``--temperature-from TWIN`` names a calibrated model of the same recipe trained on train only,
whose temperature is then applied as it is (its figures on val are shown but are not held out).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from inference.emotion import EmotionClassifier
from inference.emotion_preprocessing import preprocess_faces
from inference.evaluation import evaluate_classifier, iter_folder, load_labelled_faces
from inference.model_manifest import CANONICAL_CLASSES, ModelManifest, resolve_model, sha256_file
from training.errors import ExportError
from training.export_pipeline import cpu_name
from training.face_size_evaluation import evaluate_face_sizes
from training.model_card import extra_training_data, write_model_files
from training.model_predictors import onnx_predictor
from training.onnx_export import measure_latency

BINS = 15
T_NAME = "temperature"
T_RANGE = (0.25, 8.0)
PARITY_TOLERANCE = 1e-6


def softmax_node(graph: onnx.GraphProto) -> onnx.NodeProto:
    """The graph's single Softmax node; ExportError when there is none or more than one."""
    found = [node for node in graph.node if node.op_type == "Softmax"]
    if len(found) != 1:
        raise ExportError(f"expected exactly one Softmax node in the graph, found {len(found)}")
    return found[0]


def temperature_graph(
    model: onnx.ModelProto, temperature: float, overridable: bool = False
) -> onnx.ModelProto:
    """A copy of ``model`` whose Softmax reads ``logits / temperature``.

    With ``overridable`` the temperature is also a graph input (defaulting to its initializer),
    so that fitting can try many values with one session.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    graph.initializer.append(helper.make_tensor(T_NAME, TensorProto.FLOAT, [], [temperature]))
    if overridable:
        graph.input.append(helper.make_tensor_value_info(T_NAME, TensorProto.FLOAT, []))
    mean = averaged_output(graph)
    if mean is not None:
        scale_averaged_output(graph, mean)
        onnx.checker.check_model(out)
        return out
    node = softmax_node(graph)
    logits, scaled = node.input[0], "logits_over_temperature"
    node.input[0] = scaled
    nodes = list(graph.node)
    at = nodes.index(node)
    nodes.insert(at, helper.make_node("Div", [logits, T_NAME], [scaled], name="temperature_div"))
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(out)
    return out


def averaged_output(graph: onnx.GraphProto) -> onnx.NodeProto | None:
    """The ``Mean`` node writing the output of an ensemble of several Softmax members, or None."""
    if sum(node.op_type == "Softmax" for node in graph.node) < 2:
        return None
    output = graph.output[0].name
    return next((n for n in graph.node if n.op_type == "Mean" and output in n.output), None)


def scale_averaged_output(graph: onnx.GraphProto, mean: onnx.NodeProto) -> None:
    """Make the graph output ``softmax(log(mean) / T)``; edits ``graph`` and ``mean`` in place."""
    output, averaged = graph.output[0].name, "averaged_probabilities"
    mean.output[:] = [averaged]
    graph.node.extend(
        [
            helper.make_node("Log", [averaged], ["log_averaged"], name="temperature_log"),
            helper.make_node("Div", ["log_averaged", T_NAME], ["log_over_temperature"]),
            helper.make_node("Softmax", ["log_over_temperature"], [output], axis=-1),
        ]
    )


def temperature_scorer(
    model: onnx.ModelProto, inputs: np.ndarray, order: np.ndarray, batch: int = 512
) -> Callable[[float], np.ndarray]:
    """``probs(T)``: canonical-order probabilities of ``inputs`` with the logits divided by T."""
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.log_severity_level = 3  # the overridable initializer is intended, no warning
    session = ort.InferenceSession(
        temperature_graph(model, 1.0, overridable=True).SerializeToString(),
        options,
        providers=["CPUExecutionProvider"],
    )
    name = session.get_inputs()[0].name

    def probs(temperature: float) -> np.ndarray:
        t = np.asarray(temperature, dtype=np.float32)
        parts = [
            session.run(None, {name: inputs[i : i + batch], T_NAME: t})[0]
            for i in range(0, len(inputs), batch)
        ]
        return np.concatenate(parts)[:, order].astype(np.float64)

    return probs


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean())


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """Sum over equal-width confidence bins of |accuracy - mean confidence| x share of faces."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            gap = abs(correct[inside].mean() - confidence[inside].mean())
            total += gap * inside.mean()
    return float(total)


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per bin: its range, face count, mean confidence and accuracy (for diagrams and cards)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        rows.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "n": n,
                "confidence": float(confidence[inside].mean()) if n else None,
                "accuracy": float(correct[inside].mean()) if n else None,
            }
        )
    return rows


def fit_temperature(
    nll_at: Callable[[float], float], low: float = T_RANGE[0], high: float = T_RANGE[1]
) -> float:
    """T minimising ``nll_at`` by golden-section search on log T (NLL is unimodal in T)."""
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll_at(math.exp(c)), nll_at(math.exp(d))
    while b - a > 1e-3:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll_at(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll_at(math.exp(d))
    return math.exp((a + b) / 2)


def render_reliability(
    before: list[dict], after: list[dict], figures: dict[str, float], path: Path
) -> None:
    """Two-panel reliability diagram (accuracy vs confidence per bin), before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
    panels = [("before", before, figures["ece_before"], 1.0)]
    panels.append(("after", after, figures["ece_after"], figures["temperature"]))
    for ax, (title, rows, ece, t) in zip(axes, panels, strict=True):
        used = [r for r in rows if r["n"]]
        centres = [(r["low"] + r["high"]) / 2 for r in used]
        ax.bar(
            centres,
            [r["accuracy"] for r in used],
            width=1 / len(rows),
            edgecolor="black",
            alpha=0.7,
            label="accuracy",
        )
        ax.plot(
            [r["confidence"] for r in used],
            [r["accuracy"] for r in used],
            "o",
            ms=3,
            color="black",
            label="(mean confidence, accuracy)",
        )
        ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="top-class probability",
            title=f"{title} scaling (T = {t:.3f}): ECE {ece:.4f}",
        )
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("accuracy in bin")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def borrowed_temperature(
    source: ModelManifest, temperature_from: str | None, models_dir: Path
) -> tuple[float, str] | None:
    """(T, where it was fitted) of ``temperature_from``, or None to fit T on val.

    Raises ExportError when the source trained on extra data (val) and no twin is named, or
    when the named model has no fitted temperature.
    """
    extra = extra_training_data(source.training)
    if temperature_from is None:
        if extra:
            raise ExportError(
                f"{source.name} was trained on {', '.join(extra)} as well (a final fit): a "
                "temperature fitted on faces it has seen would leave it overconfident; pass "
                "--temperature-from with the calibrated train-only twin of its recipe"
            )
        return None
    twin, _ = resolve_model(temperature_from, models_dir)
    cal = twin.evaluation.get("calibration") or {}
    if "temperature" not in cal:
        raise ExportError(f"{temperature_from} has no fitted temperature; calibrate it first")
    return float(
        cal["temperature"]
    ), f"{temperature_from} (taken as it is; there: {cal['fitted_on']})"


def calibrate_registered_model(
    source_name: str,
    name: str,
    models_dir: Path,
    val_dir: Path,
    command: str,
    temperature_from: str | None = None,
) -> dict[str, Any]:
    """Write ``models_dir/name`` (model with T inside, manifest, card, reliability.png).

    T is fitted on ``val_dir`` or, with ``temperature_from``, taken from that calibrated model.
    Raises ExportError when the folder exists, the graph has no single Softmax, the edited
    graph at T = 1 differs from the source (max abs difference over 1e-6 on the val faces),
    or the source trained on val and ``temperature_from`` is missing (borrowed_temperature).
    """
    source, source_path = resolve_model(source_name, models_dir)
    folder = models_dir / name
    if folder.exists():
        raise ExportError(f"{folder} already exists; choose another --name")
    borrowed = borrowed_temperature(source, temperature_from, models_dir)
    crops, label_list = load_labelled_faces(iter_folder(val_dir))
    labels = np.asarray(label_list)
    inputs = preprocess_faces(crops, source.preprocessing)
    model = onnx.load(str(source_path))
    order = np.array([source.classes.index(c) for c in CANONICAL_CLASSES])
    probs = temperature_scorer(model, inputs, order)
    before = probs(1.0)
    plain = onnx_predictor(source_path, source.classes)(inputs)
    if np.abs(before - plain).max() > PARITY_TOLERANCE:
        raise ExportError("the graph with T = 1 differs from the source; the graph edit is wrong")
    if borrowed:
        temperature, fitted_on = borrowed
    else:
        temperature = fit_temperature(lambda t: negative_log_likelihood(probs(t), labels))
        fitted_on = f"FER-2013 val ({val_dir}), {len(labels)} faces, minimum NLL"
    after = probs(temperature)
    folder.mkdir(parents=True)
    try:
        path = folder / source.file
        onnx.save(temperature_graph(model, temperature), str(path))
        figures = calibration_figures(before, after, labels, temperature, fitted_on)
        render_reliability(
            figures["bins_before"], figures["bins_after"], figures, folder / "reliability.png"
        )
        manifest = calibrated_manifest(source, folder, figures, command)
        (folder / "manifest.json").write_text(manifest.to_json())  # provisional, for the engine
        evaluate_registered(manifest, folder, crops, labels)
        write_model_files(manifest, folder)
    except Exception:
        shutil.rmtree(folder)
        raise
    return {"model_dir": str(folder), **{k: v for k, v in figures.items() if "bins" not in k}}


def evaluate_registered(
    manifest: ModelManifest, folder: Path, crops: list[np.ndarray], labels: np.ndarray
) -> None:
    """Measure the registered model as the engine runs it; updates ``manifest.evaluation``."""
    classifier = EmotionClassifier(folder.name, threads=1, models_dir=folder.parent)
    metrics = evaluate_classifier(classifier, crops, labels)
    pre = manifest.preprocessing
    path = folder / manifest.file
    inputs = preprocess_faces(crops, pre)
    manifest.training["latency_cpu"] = cpu_name()  # measured here, not where the source was
    manifest.evaluation.update(
        {k: v for k, v in metrics.items() if k != "model"},
        latency=measure_latency(path, (pre.channels, pre.size, pre.size)),
        by_face_px=evaluate_face_sizes(onnx_predictor(path, manifest.classes), inputs, labels, pre),
    )


def calibration_figures(
    before: np.ndarray, after: np.ndarray, labels: np.ndarray, t: float, fitted_on: str
) -> dict[str, Any]:
    return {
        "temperature": t,
        "fitted_on": fitted_on,
        "bins": BINS,
        "ece_before": expected_calibration_error(before, labels),
        "ece_after": expected_calibration_error(after, labels),
        "nll_before": negative_log_likelihood(before, labels),
        "nll_after": negative_log_likelihood(after, labels),
        "accuracy_before": float((before.argmax(1) == labels).mean()),
        "accuracy_after": float((after.argmax(1) == labels).mean()),
        "predictions_changed": int((before.argmax(1) != after.argmax(1)).sum()),
        "bins_before": reliability_bins(before, labels),
        "bins_after": reliability_bins(after, labels),
        "diagram": "reliability.png",
    }


def calibrated_manifest(
    source: ModelManifest, folder: Path, figures: dict[str, Any], command: str
) -> ModelManifest:
    """The source manifest, renamed, new checksum, ``evaluation.calibration`` and its record."""
    data = json.loads(source.to_json())
    t = figures["temperature"]
    data["evaluation"]["calibration"] = figures
    data["training"]["temperature_scaling"] = {
        "source": source.name,
        "source_sha256": source.sha256,
        "command": command,
    }
    data.update(
        name=folder.name,
        version=f"{source.version}+T{t:.4f}",
        sha256=sha256_file(folder / source.file),
        description=f"{source.description} Logits divided by the temperature {t:.4f} "
        f"(fitted on {figures['fitted_on']}) before the Softmax, inside the graph.",
    )
    return ModelManifest.from_dict(data)
