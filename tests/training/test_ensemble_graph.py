"""Ensembles inside one ONNX graph (training.ensemble_graph, `ensemble` CLI)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

pytest.importorskip("torch")

from inference.model_manifest import DEFAULT_MODELS_DIR, resolve_model
from training.cli import main
from training.ensemble_graph import check_members, ensemble_graph, member_inputs
from training.errors import ExportError
from training.mirror_tta import run_onnx

MEMBERS = ["resnet-fer-v1", "resnet-fer-v1-mirror-int8"]


def test_command_registers_the_mean_of_two_models(fer_sample: Path, tmp_path: Path) -> None:
    # given a copy of the models directory (an FP32 model and an INT8 mirror model) and faces
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, models)
    # when both are joined into one graph through the command line
    args = ["ensemble", *MEMBERS, "--name", "both", "--models-dir", str(models)]
    assert main([*args, "--data", str(fer_sample)]) == 0
    # then it is registered (checksum verified) and outputs the mean of the members
    manifest, path = resolve_model("both", models)
    x = np.random.default_rng(4).standard_normal((6, 1, 48, 48)).astype(np.float32)
    outputs = [run_onnx(resolve_model(m, models)[1], x) for m in MEMBERS]
    assert np.abs(run_onnx(path, x) - np.mean(outputs, axis=0)).max() < 1e-5
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-3  # the members do differ
    # and it is evaluated by the engine on the faces, by face size too, with a card
    assert manifest.evaluation["n"] == 280
    assert sorted(manifest.evaluation["by_face_px"], key=int) == ["16", "24", "32", "48"]
    assert [m["name"] for m in manifest.training["ensemble"]["members"]] == MEMBERS
    card = (models / "both" / "MODEL_CARD.md").read_text()
    assert "ensemble inside one graph" in card and "(first member, resnet-fer-v1)" in card


def test_onnx_runtime_runs_an_ensemble_of_mirror_models_without_shape_warnings(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # given an ensemble of two shipped mirror models, whose inner tensors hold twice the batch
    members = ["resnet-fer-v2-mirror-int8-cal", "resnet-fer-v3-mirror-int8-cal"]
    graphs = [onnx.load(str(resolve_model(m, DEFAULT_MODELS_DIR)[1])) for m in members]
    path = tmp_path / "ensemble.onnx"
    onnx.save(ensemble_graph(graphs), str(path))
    capfd.readouterr()
    # when ONNX Runtime scores batches frame after frame, as a worker does
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (4, 4, 30):
        session.run(None, {"input": np.zeros((n, 1, 48, 48), dtype=np.float32)})
    # then it logs nothing on the process's stderr (it warned on every call)
    assert "Shape mismatch" not in capfd.readouterr().err


def test_members_with_other_inputs_are_refused(
    fer_sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a 48 px model and the 64 px fer-mini-xception
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, models)
    # when they are joined
    args = ["ensemble", "resnet-fer-v1", "fer-mini-xception", "--name", "mixed"]
    code = main([*args, "--models-dir", str(models), "--data", str(fer_sample)])
    # then it is refused naming the model, and nothing is written
    assert code == 2 and "fer-mini-xception takes other inputs" in capsys.readouterr().err
    assert not (models / "mixed").exists()


def test_an_ensemble_with_a_final_fit_member_says_its_val_figures_are_not_held_out(
    fer_sample: Path, tmp_path: Path
) -> None:
    # given two members of which only the second also trained on val (a final fit)
    models = tmp_path / "models"
    for member in MEMBERS:
        shutil.copytree(DEFAULT_MODELS_DIR / member, models / member)
    path = models / MEMBERS[1] / "manifest.json"
    data = json.loads(path.read_text())
    data["training"]["config"].setdefault("data", {})["train_extra"] = [str(fer_sample)]
    path.write_text(json.dumps(data))
    # when they are averaged
    args = ["ensemble", *MEMBERS, "--name", "ens", "--models-dir", str(models)]
    assert main([*args, "--data", str(fer_sample)]) == 0
    # then the description and the card say so, although the first member trained on train only
    manifest, _ = resolve_model("ens", models)
    assert manifest.description.endswith("its val figures are not held out.")
    card = (models / "ens" / "MODEL_CARD.md").read_text()
    assert "seen in training, not held out" in card


def test_a_48_px_and_a_64_px_model_average_at_64_px(fer_sample: Path, tmp_path: Path) -> None:
    # given a 48 px model and a 64 px model of the same preprocessing otherwise
    small, large = "resnet-fer-v1", "resnet-fer-64px-mirror-int8h-cal"
    models = tmp_path / "models"
    for member in (small, large):
        shutil.copytree(DEFAULT_MODELS_DIR / member, models / member)
    # when they are averaged through the command line
    args = ["ensemble", small, large, "--name", "two-res", "--models-dir", str(models)]
    assert main([*args, "--data", str(fer_sample)]) == 0
    # then the ensemble reads 64 px faces, and its output is the mean of the 64 px model on
    # them and the 48 px model on the same faces shrunk by OpenCV's area resampling
    manifest, path = resolve_model("two-res", models)
    assert manifest.preprocessing.size == 64
    x = np.random.default_rng(5).standard_normal((4, 1, 64, 64)).astype(np.float32)
    shrunk = np.stack([cv2.resize(f[0], (48, 48), interpolation=cv2.INTER_AREA) for f in x])
    expected = [
        run_onnx(resolve_model(large, models)[1], x),
        run_onnx(resolve_model(small, models)[1], shrunk[:, None]),
    ]
    assert np.abs(run_onnx(path, x) - np.mean(expected, axis=0)).max() < 1e-4
    # and its card says which member reads which size
    card = (models / "two-res" / "MODEL_CARD.md").read_text()
    assert f"- Input sizes: `{small}` 48 px, `{large}` 64 px" in card


def test_a_size_change_for_channels_last_members_is_refused() -> None:
    # given two channels-last (NHWC) manifests that differ only in input size
    manifest, _ = resolve_model("resnet-fer-v1", DEFAULT_MODELS_DIR)
    nhwc = replace(manifest, preprocessing=replace(manifest.preprocessing, layout="NHWC"))
    larger = replace(nhwc, name="larger", preprocessing=replace(nhwc.preprocessing, size=64))
    # when checked as ensemble members, then the size change is refused, naming the model
    check_members([nhwc, replace(nhwc, name="twin")])
    with pytest.raises(ExportError, match="larger takes other inputs"):
        check_members([nhwc, larger])


def test_a_graph_shrink_unlike_opencv_is_refused_before_parity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given faces at 64 px and a graph shrink that resamples bilinearly instead of by area
    x = np.random.default_rng(6).standard_normal((3, 1, 64, 64)).astype(np.float32)
    assert member_inputs(x, 48).shape == (3, 1, 48, 48)  # the graph's real shrink passes
    bilinear = np.stack(
        [[cv2.resize(c, (48, 48), interpolation=cv2.INTER_LINEAR) for c in f] for f in x]
    )
    monkeypatch.setattr("training.ensemble_graph.shrink_onnx", lambda sample, size: bilinear)
    # when the members' inputs are prepared for the parity check
    # then the build stops, naming both sizes
    with pytest.raises(ExportError, match="shrinks 64 px faces to 48 px unlike OpenCV"):
        member_inputs(x, 48)
    # and a member of the ensemble's own size gets the faces untouched
    assert member_inputs(x, 64) is x
