"""Mirror test-time augmentation inside an ONNX model (training.mirror_tta, `mirror-tta` CLI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

pytest.importorskip("torch")

from inference.emotion import EmotionClassifier
from inference.model_manifest import DEFAULT_MODELS_DIR, resolve_model
from tests.training.conftest import write_class_folders
from training.cli import main
from training.mirror_tta import mirror_tta_graph, run_onnx

SOURCE = "resnet-fer-v1"


def faces(n: int = 6) -> np.ndarray:
    """Normalised left-right asymmetric inputs (NCHW, 48x48), as the model receives them."""
    x = np.random.default_rng(1).standard_normal((n, 1, 48, 48)).astype(np.float32)
    x[..., :16] += 1.5  # a bright left third: the mirror image is a different input
    return x


def test_graph_averages_each_face_and_its_mirror(tmp_path: Path) -> None:
    # given the shipped source model and a mirror model built from its graph
    _, source = resolve_model(SOURCE, DEFAULT_MODELS_DIR)
    derived = tmp_path / "mirror.onnx"
    onnx.save(mirror_tta_graph(onnx.load(str(source)), axis=3), str(derived))
    x = faces()
    # when both score the same faces
    plain = run_onnx(source, x)
    mirrored = run_onnx(source, x[..., ::-1].copy())
    both = run_onnx(derived, x)
    # then the new output is the mean of the source on the faces and their mirror images
    assert both.shape == plain.shape == (6, 7)
    assert np.abs(both - (plain + mirrored) / 2).max() < 1e-5
    assert np.abs(both - plain).max() > 1e-3  # not the source unchanged
    assert np.allclose(both.sum(axis=1), 1.0, atol=1e-5)
    # and a single face works as well as a batch (dynamic batch kept)
    assert np.allclose(run_onnx(derived, x[:1]), both[:1], atol=1e-6)


def test_the_mirror_graph_keeps_no_shape_notes_of_the_single_batch() -> None:
    # given a source whose inner tensors are annotated with the input's batch axis, as
    # quantization pre-processing leaves them
    _, source = resolve_model(SOURCE, DEFAULT_MODELS_DIR)
    annotated = onnx.shape_inference.infer_shapes(onnx.load(str(source)))
    assert annotated.graph.value_info
    # when it becomes a mirror model, whose inner tensors hold twice the batch
    derived = mirror_tta_graph(annotated, axis=3)
    # then none of those notes is kept (they would be wrong; ONNX Runtime infers shapes itself)
    assert not derived.graph.value_info


def test_command_registers_an_evaluated_model_with_a_card(tmp_path: Path) -> None:
    # given a copy of the models directory and a small labelled val folder
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, models)
    val = write_class_folders(tmp_path / "val", ["angry", "happy", "sad"], per_class=4)
    # when the mirror model is derived through the command line
    args = ["mirror-tta", SOURCE, "--name", "mirrored", "--models-dir", str(models)]
    assert main([*args, "--data", str(val)]) == 0
    # then it is registered (checksum verified) and scores faces like the engine does
    manifest, _ = resolve_model("mirrored", models)
    assert manifest.evaluation["n"] == 12
    assert manifest.training["mirror_tta"]["source"] == SOURCE
    assert manifest.training["mirror_tta"]["parity_max_abs_diff"] < 1e-5
    probs = EmotionClassifier("mirrored", models_dir=models).classify([np.eye(48, dtype=np.uint8)])
    assert probs.shape == (1, 7)
    # and the card says how it was derived, and which figures belong to the source model
    card = (models / "mirrored" / "MODEL_CARD.md").read_text()
    assert "mirror test-time augmentation inside the graph" in card
    assert f"Derived from `{SOURCE}`" in card and "(source model, one pass per face)" in card
    # and the source model is untouched
    source = json.loads((models / SOURCE / "manifest.json").read_text())
    assert source == json.loads((DEFAULT_MODELS_DIR / SOURCE / "manifest.json").read_text())


def test_an_existing_name_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a models directory that already holds the target name
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, models)
    before = (models / "fer-mini-xception" / "manifest.json").read_text()
    val = write_class_folders(tmp_path / "val", ["happy"], per_class=2)
    # when asked to write over it
    args = ["mirror-tta", SOURCE, "--name", "fer-mini-xception", "--models-dir", str(models)]
    code = main([*args, "--data", str(val)])
    # then a clear error, and the existing model is unchanged
    assert code != 0 and "already exists" in capsys.readouterr().err
    assert (models / "fer-mini-xception" / "manifest.json").read_text() == before


def test_int8_form_is_quantized_then_mirrored(tmp_path: Path) -> None:
    # given a copy of the models directory, a small train folder for calibration and a val folder
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, models)
    train = write_class_folders(tmp_path / "train", ["fear", "neutral"], per_class=8)
    val = write_class_folders(tmp_path / "val", ["fear", "neutral"], per_class=3, seed=1)
    # when the INT8 mirror model is derived
    args = ["mirror-tta", SOURCE, "--name", "m8", "--models-dir", str(models), "--data", str(val)]
    assert main([*args, "--int8-train", str(train)]) == 0
    # then a registered model about a quarter of the FP32 size, recording its calibration
    manifest, path = resolve_model("m8", models)
    int8 = manifest.training["mirror_tta"]["int8"]
    assert (int8["calibration_faces"], int8["train"]) == (16, str(train))
    assert path.stat().st_size < (models / SOURCE / "model.onnx").stat().st_size / 3
    assert manifest.evaluation["n"] == 6 and manifest.version.endswith("+int8+mirror-tta")
    # and only the model's own files are left in its folder
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "MODEL_CARD.md",
        "manifest.json",
        "model.onnx",
    ]
    assert "INT8 (static QDQ" in (path.parent / "MODEL_CARD.md").read_text()
    # and its outputs are still probabilities (the Softmax is not quantized)
    probs = EmotionClassifier("m8", models_dir=models).classify([np.eye(48, dtype=np.uint8)] * 3)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_the_mirror_form_of_a_final_fit_says_its_val_figures_are_not_held_out(
    tmp_path: Path,
) -> None:
    # given a source model whose training also used the val folder (a final fit)
    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR / SOURCE, models / SOURCE)
    val = write_class_folders(tmp_path / "val", ["angry", "happy", "sad"], per_class=4)
    path = models / SOURCE / "manifest.json"
    data = json.loads(path.read_text())
    data["training"]["config"].setdefault("data", {})["train_extra"] = [str(val)]
    path.write_text(json.dumps(data))
    # when its mirror form is derived
    args = ["mirror-tta", SOURCE, "--name", "mirrored", "--models-dir", str(models)]
    assert main([*args, "--data", str(val)]) == 0
    # then the description and the card keep saying that its val figures are not held out
    manifest, _ = resolve_model("mirrored", models)
    assert manifest.description.endswith("its val figures are not held out.")
    card = (models / "mirrored" / "MODEL_CARD.md").read_text()
    assert "seen in training, not held out" in card
