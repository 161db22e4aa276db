"""The face-recognition family: dlib's ResNet on gray faces, exact to dlib, trainable, exported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from torch import Tensor  # noqa: E402

from inference.dlib_models import model_path  # noqa: E402
from inference.dlib_resnet_onnx import (  # noqa: E402
    convert_verified_parse,
    make_parity_chips,
    run_onnx,
)
from inference.model_manifest import CANONICAL_CLASSES, Preprocessing  # noqa: E402
from tests.training.conftest import tiny_config, write_class_folders  # noqa: E402
from training.checkpoints import load_model  # noqa: E402
from training.dataset_loaders import load_dataset  # noqa: E402
from training.errors import ConfigError  # noqa: E402
from training.explanation_maps import grad_cam  # noqa: E402
from training.face_recognition_transfer import (  # noqa: E402
    GRAY_MEAN,
    GRAY_STD,
    FaceRecognitionNet,
    check_preprocessing,
)
from training.model_zoo import build_model  # noqa: E402
from training.onnx_export import check_parity, export_onnx  # noqa: E402
from training.training_config import parse_config  # noqa: E402
from training.training_run import train_model  # noqa: E402

GRAY_48 = Preprocessing(size=48, mean=(GRAY_MEAN,), std=(GRAY_STD,))
EMBEDDER = Path(__file__).resolve().parents[2] / "inference/models/dlib-resnet-onnx/model.onnx"


def normalised_gray(gray: np.ndarray) -> Tensor:
    return torch.from_numpy(((gray / 255.0 - GRAY_MEAN) / GRAY_STD).astype(np.float32))[:, None]


def test_whole_network_on_gray_faces_equals_the_shipped_embedder() -> None:
    # given gray 150 px chips, as the family sees them, and the same chips as RGB for the
    # identity embedder the product ships (dlib's network converted to ONNX)
    gray = make_parity_chips(6).mean(axis=3).round().astype(np.uint8)
    reference = run_onnx(str(EMBEDDER), np.repeat(gray[..., None], 3, axis=3))
    # when the family's network is built whole (with dlib's last level and fc) at 150 px
    net = FaceRecognitionNet(convert_verified_parse(model_path("resnet")), 150, whole=True)
    with torch.no_grad():
        embeddings = net.eval()(normalised_gray(gray)).numpy()
    # then the folded gray stem and the rewired levels give dlib's embeddings
    np.testing.assert_allclose(embeddings, reference, atol=1e-4)
    assert np.abs(reference).max() > 0.1  # not a trivially small output


def test_backbone_comes_from_dlib_and_only_the_head_is_new() -> None:
    # given two builds of the family under different random seeds
    torch.manual_seed(1)
    first = build_model("face-recognition").state_dict()
    torch.manual_seed(2)
    second = build_model("face-recognition").state_dict()
    # then every backbone tensor is the same (dlib's), and the head differs
    backbone = [k for k in first if not k.startswith("head.")]
    assert len(backbone) > 50
    assert all(torch.equal(first[k], second[k]) for k in backbone)
    assert not torch.equal(first["head.1.weight"], second["head.1.weight"])


def test_the_family_exports_with_parity_on_real_faces(fer_sample: Path, tmp_path: Path) -> None:
    # given the family's model and real FER-2013 faces at 48 px
    model = build_model("face-recognition").eval()
    faces = load_dataset("fer-folder", fer_sample, "val", GRAY_48).inputs[:32]
    # when exported to ONNX (the resize to 112 px travels inside the graph)
    path = tmp_path / "m.onnx"
    export_onnx(model, (1, 48, 48), path)
    # then onnxruntime matches PyTorch
    assert check_parity(model, path, faces) <= 1e-4


@pytest.mark.parametrize(
    "spec",
    [
        Preprocessing(color="rgb", mean=(0.5, 0.5, 0.5), std=(0.3, 0.3, 0.3)),
        Preprocessing(mean=(0.0,), std=(1.0,)),
        Preprocessing(mean=(0.5,), std=(0.3,), layout="NHWC"),
    ],
)
def test_other_input_normalisations_are_refused(spec: Preprocessing) -> None:
    # when a preprocessing other than the one folded into the stem is checked,
    # then it is refused with what the family needs
    with pytest.raises(ConfigError, match="folds the input normalisation"):
        check_preprocessing(spec)


def test_gray_normalisation_at_any_size_is_accepted() -> None:
    check_preprocessing(Preprocessing(size=64, mean=(0.5,), std=(0.3,)))


@pytest.mark.parametrize(("channels", "width"), [(3, 1.0), (1, 0.5)])
def test_rgb_or_another_width_is_refused(channels: int, width: float) -> None:
    with pytest.raises(ConfigError, match=r"gray input at width 1\.0"):
        build_model("face-recognition", channels, width)


def test_a_short_run_trains_and_its_checkpoint_reloads(tmp_path: Path) -> None:
    # given a one-epoch run of the family on synthetic 24 px faces
    data = write_class_folders(tmp_path / "train", list(CANONICAL_CLASSES), per_class=4)
    raw = tiny_config(data, data, tmp_path / "runs", family="face-recognition", epochs=1)
    raw["model"]["width"] = 1.0
    raw["train"]["lr"] = 1e-4
    config = parse_config(raw)
    # when it trains
    summary = train_model(config)
    # then best.pt reloads into the same network, which predicts what the run measured
    model, spec, _ = load_model(config.run_dir / "best.pt")
    assert isinstance(model, FaceRecognitionNet)
    faces = load_dataset("folder", data, "val", spec)
    with torch.no_grad():
        predicted = model(torch.from_numpy(faces.inputs)).argmax(1).numpy()
    accuracy = float((predicted == faces.labels).mean())
    assert accuracy == pytest.approx(summary["best_value"], abs=1e-6)


def test_a_run_with_another_normalisation_is_refused(tmp_path: Path) -> None:
    # given a config of the family whose inputs are scaled to 0..1 without centring
    data = write_class_folders(tmp_path / "train", list(CANONICAL_CLASSES), per_class=1)
    raw = tiny_config(data, data, tmp_path / "runs", family="face-recognition", epochs=1)
    raw["model"]["width"] = 1.0
    raw["preprocessing"].update(mean=[0.0], std=[1.0])
    # when it starts, then it stops before training with the reason
    with pytest.raises(ConfigError, match=r"std = \[0\.3\]"):
        train_model(parse_config(raw))


def test_grad_cam_explains_the_family(fer_sample: Path) -> None:
    # given the family's model and one real face
    face = load_dataset("fer-folder", fer_sample, "val", GRAY_48).inputs[:1]
    torch.manual_seed(0)
    model = build_model("face-recognition").eval()
    with torch.no_grad():
        predicted = int(model(torch.from_numpy(face)).argmax())
    # when Grad-CAM is drawn for its predicted class
    heat = grad_cam(model, face, target=predicted)
    # then it is a face-sized map in [0, 1] that is not flat
    assert heat.shape == (48, 48)
    assert heat.min() >= 0.0 and heat.max() == pytest.approx(1.0)
