"""Temperature scaling inside the ONNX graph (training.temperature_scaling, `calibrate` CLI)."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

pytest.importorskip("torch")

from onnx import helper

from inference.model_manifest import DEFAULT_MODELS_DIR, resolve_model
from training.cli import main
from training.errors import ExportError
from training.mirror_tta import run_onnx
from training.temperature_scaling import (
    expected_calibration_error,
    fit_temperature,
    softmax_node,
    temperature_graph,
)

SOURCE = "resnet-fer-v1"


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy() -> None:
    # given 10 faces at confidence 0.9 of which 6 are right, and 10 at 0.55 of which 5 are
    probs = np.full((20, 7), 0.0)
    probs[:10, 0], probs[:10, 1] = 0.9, 0.1
    probs[10:, 0], probs[10:, 1] = 0.55, 0.45
    labels = np.array([0] * 6 + [1] * 4 + [0] * 5 + [1] * 5)
    # when the ECE is computed, then it is 0.5 * |0.6 - 0.9| + 0.5 * |0.5 - 0.55|
    assert expected_calibration_error(probs, labels) == pytest.approx(0.5 * 0.3 + 0.5 * 0.05)


def test_golden_section_finds_the_minimum() -> None:
    # given a loss whose minimum over T is at T = 1.7
    def loss(t: float) -> float:
        return (math.log(t) - math.log(1.7)) ** 2

    # when fitted, then T is found to within 0.1%
    assert fit_temperature(loss) == pytest.approx(1.7, rel=1e-3)


def logits_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same graph with the Softmax's input as its output (the logits)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    logits = softmax_node(out.graph).input[0]
    del out.graph.output[:]
    out.graph.output.append(helper.make_empty_tensor_value_info(logits))
    return out


def test_graph_divides_the_logits_by_the_temperature(tmp_path: Path) -> None:
    # given the shipped one-pass model and faces
    _, source = resolve_model(SOURCE, DEFAULT_MODELS_DIR)
    model = onnx.load(str(source))
    x = np.random.default_rng(0).standard_normal((5, 1, 48, 48)).astype(np.float32)
    onnx.save(logits_model(model), str(tmp_path / "logits.onnx"))
    logits = run_onnx(tmp_path / "logits.onnx", x)
    # when T = 2.5 is put into the graph
    onnx.save(temperature_graph(model, 2.5), str(tmp_path / "scaled.onnx"))
    scaled = run_onnx(tmp_path / "scaled.onnx", x)
    # then the output is softmax(logits / 2.5), computed independently here
    z = logits / 2.5
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert np.abs(scaled - expected).max() < 1e-6
    assert np.abs(scaled - run_onnx(source, x)).max() > 1e-3


def test_an_ensemble_scales_the_log_of_its_averaged_probabilities(tmp_path: Path) -> None:
    # given an ensemble graph: the Mean of two members' Softmax outputs
    rng = np.random.default_rng(3)
    weights = [rng.standard_normal((7, 7)).astype(np.float32) for _ in range(2)]
    nodes, inits = [], []
    for i, w in enumerate(weights):
        inits.append(onnx.numpy_helper.from_array(w, f"w{i}"))
        nodes += [
            helper.make_node("MatMul", ["x", f"w{i}"], [f"z{i}"]),
            helper.make_node("Softmax", [f"z{i}"], [f"p{i}"], axis=-1),
        ]
    nodes.append(helper.make_node("Mean", ["p0", "p1"], ["y"]))
    info = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["n", 7]) for n in "xy"]
    graph = helper.make_graph(nodes, "ens", [info[0]], [info[1]], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # as our exported graphs; the onnx package's default is newer than ORT's
    x = rng.standard_normal((5, 7)).astype(np.float32)
    onnx.save(model, str(tmp_path / "ens.onnx"))
    averaged = run_onnx(tmp_path / "ens.onnx", x)
    # when T = 1 and T = 2 are put into the graph
    scaled = {}
    for t in (1.0, 2.0):
        onnx.save(temperature_graph(model, t), str(tmp_path / f"t{t}.onnx"))
        scaled[t] = run_onnx(tmp_path / f"t{t}.onnx", x)
    # then T = 1 gives the mean back and T = 2 gives softmax(log(mean) / 2), computed here
    assert np.abs(scaled[1.0] - averaged).max() < 1e-6
    expected = np.sqrt(averaged) / np.sqrt(averaged).sum(1, keepdims=True)
    assert np.abs(scaled[2.0] - expected).max() < 1e-6
    assert np.abs(scaled[2.0] - averaged).max() > 1e-3


def test_a_graph_without_a_single_softmax_is_refused() -> None:
    # given a graph with two Softmax nodes
    nodes = [
        helper.make_node("Softmax", ["x"], ["a"]),
        helper.make_node("Softmax", ["a"], ["y"]),
    ]
    info = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 7]) for n in "xy"]
    model = helper.make_model(helper.make_graph(nodes, "g", [info[0]], [info[1]]))
    # when scaled, then it is refused with the count
    with pytest.raises(ExportError, match=r"exactly one Softmax node.*found 2"):
        temperature_graph(model, 2.0)


def test_command_registers_a_calibrated_model_with_a_card(fer_sample: Path, tmp_path: Path) -> None:
    # given a copy of the models directory and 280 real FER-2013 val faces
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, models)
    # when the mirror int8 model is calibrated through the command line
    args = ["calibrate", "resnet-fer-v1-mirror-int8", "--name", "cal", "--models-dir", str(models)]
    assert main([*args, "--data", str(fer_sample)]) == 0
    # then it is registered (checksum verified) with the fitted temperature and figures
    manifest, path = resolve_model("cal", models)
    source, source_path = resolve_model("resnet-fer-v1-mirror-int8", models)
    cal = manifest.evaluation["calibration"]
    assert cal["temperature"] != pytest.approx(1.0, abs=0.02)
    assert cal["nll_after"] < cal["nll_before"] and cal["ece_after"] < cal["ece_before"]
    # and the engine's figures are those of the scaled model: at most a few close calls of the
    # mirror model (two views averaged after the Softmax) flip
    assert manifest.evaluation["accuracy"] == pytest.approx(cal["accuracy_after"])
    assert manifest.evaluation["n"] == 280 and cal["predictions_changed"] <= 280 * 0.03
    x = np.random.default_rng(2).standard_normal((8, 1, 48, 48)).astype(np.float32)
    assert np.abs(run_onnx(path, x) - run_onnx(source_path, x)).max() > 1e-3
    # and the card and the diagram are written
    card = (models / "cal" / "MODEL_CARD.md").read_text()
    assert "## Calibration" in card and f"{cal['ece_after']:.4f} after" in card
    assert sorted(manifest.evaluation["by_face_px"], key=int) == ["16", "24", "32", "48"]
    assert "Small faces" in card
    assert (models / "cal" / "reliability.png").stat().st_size > 10_000
    assert manifest.training["temperature_scaling"]["source"] == source.name


def mark_as_final_fit(models: Path, name: str, extra: str) -> None:
    """Record in ``name``'s manifest that its training also used ``extra`` (train+val)."""
    path = models / name / "manifest.json"
    data = json.loads(path.read_text())
    data["training"]["config"].setdefault("data", {})["train_extra"] = [extra]
    data["name"] = name
    path.write_text(json.dumps(data))


def test_a_final_fit_takes_the_temperature_of_its_train_only_twin(
    fer_sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a calibrated train-only model and the same network marked as trained on val too
    models = tmp_path / "models"
    shutil.copytree(
        DEFAULT_MODELS_DIR / "resnet-fer-v1-mirror-int8", models / "resnet-fer-v1-mirror-int8"
    )
    shutil.copytree(models / "resnet-fer-v1-mirror-int8", models / "final-fit")
    mark_as_final_fit(models, "final-fit", str(fer_sample))
    data = ["--models-dir", str(models), "--data", str(fer_sample)]
    assert main(["calibrate", "resnet-fer-v1-mirror-int8", "--name", "twin-cal", *data]) == 0
    # when the final fit is calibrated on the val faces it has seen, it is refused
    capsys.readouterr()
    assert main(["calibrate", "final-fit", "--name", "cal", *data]) != 0
    assert re.search(
        r"final-fit was trained on .* final fit.*--temperature-from", capsys.readouterr().err
    )
    assert not (models / "cal").exists()
    # and a model without a fitted temperature cannot lend one
    lender = ["--temperature-from", "final-fit"]
    assert main(["calibrate", "final-fit", "--name", "cal", *lender, *data]) != 0
    assert "final-fit has no fitted temperature" in capsys.readouterr().err
    # when it takes the twin's temperature instead
    args = ["calibrate", "final-fit", "--name", "cal", "--temperature-from", "twin-cal", *data]
    assert main(args) == 0
    # then the twin's temperature is applied as it is and the card says where it came from
    twin, _ = resolve_model("twin-cal", models)
    manifest, _ = resolve_model("cal", models)
    cal = manifest.evaluation["calibration"]
    assert cal["temperature"] == twin.evaluation["calibration"]["temperature"]
    assert cal["fitted_on"].startswith("twin-cal (taken as it is")
    card = (models / "cal" / "MODEL_CARD.md").read_text()
    assert "The temperature is the train-only twin's" in card
    assert "seen in training, not held out" in card
