"""ONNX export: parity with PyTorch on real images, INT8 quantization, registered model folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from inference.emotion import EmotionClassifier  # noqa: E402
from inference.model_manifest import CANONICAL_CLASSES, Preprocessing, resolve_model  # noqa: E402
from training.cli import main  # noqa: E402
from training.dataset_loaders import load_dataset  # noqa: E402
from training.errors import ExportError  # noqa: E402
from training.export_pipeline import export_checkpoint  # noqa: E402
from training.model_predictors import onnx_predictor  # noqa: E402
from training.model_zoo import BUILDERS, build_model  # noqa: E402
from training.onnx_export import check_parity, export_onnx, quantize_int8  # noqa: E402


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_every_family_exports_with_parity_on_real_faces(
    family: str, fer_sample: Path, tmp_path: Path
) -> None:
    # given a freshly initialised model of each family and real FER-2013 faces
    torch.manual_seed(0)
    model = build_model(family, 1, width=0.5).eval()
    faces = load_dataset("fer-folder", fer_sample, "val", Preprocessing(size=48)).inputs[:64]
    # when exported to ONNX
    path = tmp_path / "m.onnx"
    export_onnx(model, (1, 48, 48), path)
    # then onnxruntime matches PyTorch within 1e-4 and outputs probabilities
    assert check_parity(model, path, faces) <= 1e-4
    probs = onnx_predictor(path, CANONICAL_CLASSES)(faces)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_parity_failure_is_reported(tmp_path: Path) -> None:
    # given an exported model whose PyTorch weights then change
    model = build_model("mobile", 1, width=0.25).eval()
    path = tmp_path / "m.onnx"
    export_onnx(model, (1, 24, 24), path)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    # when parity is checked, then it fails with the measured difference
    x = np.random.default_rng(0).standard_normal((8, 1, 24, 24)).astype(np.float32)
    with pytest.raises(ExportError, match="parity failed: max abs diff"):
        check_parity(model, path, x)


def test_int8_quantization_runs_and_stays_close(fer_sample: Path, tmp_path: Path) -> None:
    # given an FP32 export and real faces for calibration
    torch.manual_seed(0)
    model = build_model("baseline", 1, width=0.5).eval()
    faces = load_dataset("fer-folder", fer_sample, "val", Preprocessing(size=48)).inputs
    fp32, int8 = tmp_path / "m.onnx", tmp_path / "m.int8.onnx"
    export_onnx(model, (1, 48, 48), fp32)
    # when quantized to INT8
    quantize_int8(fp32, int8, faces[:64])
    # then the INT8 file is smaller and its probabilities stay near the FP32 ones
    p32 = onnx_predictor(fp32, CANONICAL_CLASSES)(faces)
    p8 = onnx_predictor(int8, CANONICAL_CLASSES)(faces)
    assert int8.stat().st_size < fp32.stat().st_size
    assert float(np.abs(p32 - p8).mean()) < 0.05
    # and the classifier head, where calibration is decided, keeps its FP32 weights
    graph = onnx.load(str(int8)).graph
    weights = {i.name: i for i in graph.initializer}
    (softmax,) = [n for n in graph.node if n.op_type == "Softmax"]
    (head,) = [n for n in graph.node if softmax.input[0] in n.output]
    assert head.op_type == "Gemm"
    assert weights[head.input[1]].data_type == onnx.TensorProto.FLOAT


def test_export_writes_a_model_the_engine_loads(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a trained checkpoint
    models = tmp_path / "models"
    # when exported with quantization
    report = export_checkpoint(
        trained_run / "best.pt", "tiny", models, quantize=True, notes=["Next: train longer."]
    )
    # then the manifest verifies (sha256), the engine classifies with it, and figures are recorded
    manifest, path = resolve_model("tiny", models)
    assert manifest.classes == CANONICAL_CLASSES and manifest.preprocessing.size == 24
    assert report["parity"] <= 1e-4
    classifier = EmotionClassifier("tiny", models_dir=models)
    probs = classifier.classify([np.zeros((30, 30), np.uint8)])
    assert probs.shape == (1, 7)
    data = json.loads((models / "tiny" / "manifest.json").read_text())
    assert data["training"]["seed"] == 7
    assert data["training"]["quantization"]["speedup"] > 0
    assert {"accuracy", "macro_f1", "per_class", "latency", "tta_on"} <= set(data["evaluation"])
    card = (models / "tiny" / "MODEL_CARD.md").read_text()
    assert "not feelings" in card and "children" in card and "non-commercial" in card
    # and the card holds the config as run, the export notes, and no budget caveat (none set)
    assert json.loads(card.split("```json\n")[1].split("```")[0]) == data["training"]["config"]
    assert "## Notes\n\n- Next: train longer.\n" in card
    assert "wall-clock budget" not in card
    # and accuracy by face size (the tiny model's input is 24 px: 48 and 32 px are the plain
    # figure) and the training's CPU hours
    by_px = data["evaluation"]["by_face_px"]
    assert sorted(by_px, key=int) == ["16", "24", "32", "48"]
    assert by_px["48"]["accuracy"] == by_px["24"]["accuracy"] == data["evaluation"]["accuracy"]
    assert f"16 px {by_px['16']['accuracy']:.4f}" in card and "CPU hours" in card
    assert data["training"]["cpu_seconds"] > 0
    assert path.stat().st_size <= 10 * 1024 * 1024
    assert sorted(p.name for p in (models / "tiny").iterdir()) == [
        "MODEL_CARD.md",
        "manifest.json",
        "model.onnx",
    ]
    # and the bench command reports its latency as JSON on the last line
    assert main(["bench", "--model", "tiny", "--models-dir", str(models), "--repeats", "2"]) == 0
    bench = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert bench["ms_per_face"] > 0 and bench["threads"] == 1
