"""Knowledge distillation: a registered ONNX model teaches a run; the run stays resumable."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

import torch.nn.functional as F  # noqa: E402

from inference.model_manifest import resolve_model  # noqa: E402
from tests.training.conftest import tiny_config  # noqa: E402
from tests.training.test_interrupted_training import (  # noqa: E402
    assert_same_run,
    resumable_config,
    run_child,
    write_config,
)
from training.distillation import distillation_loss, load_teacher, resize_batch  # noqa: E402
from training.errors import ConfigError  # noqa: E402
from training.export_pipeline import export_checkpoint  # noqa: E402
from training.resume_guard import ResumeMismatch  # noqa: E402
from training.run_logs import read_batch_losses  # noqa: E402
from training.training_config import parse_config  # noqa: E402
from training.training_run import train_model  # noqa: E402

DISTIL = {"teacher": "teacher", "weight": 0.8, "temperature": 2.0}


@pytest.fixture
def teacher_models(trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models directory holding the trained tiny run as registered model "teacher"."""
    models = tmp_path / "models"
    export_checkpoint(trained_run / "best.pt", "teacher", models)
    monkeypatch.setenv("WELLBEING_MODELS_DIR", str(models))
    return models


def test_loss_is_zero_for_a_student_that_matches_the_teacher() -> None:
    # given student logits and a teacher whose probabilities are their softmax
    logits = torch.randn(32, 7, generator=torch.Generator().manual_seed(0))
    teacher = F.softmax(logits, dim=1)
    # when the distillation loss is computed at T = 1 and T = 3
    # then it vanishes for the matching student, at any temperature
    for temperature in (1.0, 3.0):
        assert float(distillation_loss(logits, teacher, temperature)) < 1e-6
    # and a different student is penalised, and its gradient moves it towards the teacher
    other = torch.zeros(32, 7, requires_grad=True)
    loss = distillation_loss(other, teacher, 2.0)
    loss.backward()
    assert other.grad is not None
    before = float(loss.detach())
    after = float(distillation_loss(other.detach() - 5.0 * other.grad, teacher, 2.0))
    assert before > 0.05 and after < before


def test_a_distilled_run_learns_from_the_teacher(
    synthetic_split: Path, tmp_path: Path, teacher_models: Path
) -> None:
    # given the same one-epoch run without and with a teacher
    plain = tiny_config(synthetic_split, synthetic_split, tmp_path / "plain", epochs=1)
    taught = tiny_config(synthetic_split, synthetic_split, tmp_path / "taught", epochs=1)
    taught["distillation"] = DISTIL
    # when both are trained
    train_model(parse_config(plain))
    train_model(parse_config(taught))
    # then the first batch saw the same weights and data but a different loss, and the run
    # log names the teacher
    plain_losses = read_batch_losses(parse_config(plain).run_dir)
    taught_dir = parse_config(taught).run_dir
    assert plain_losses[0][1] != pytest.approx(read_batch_losses(taught_dir)[0][1])
    assert "teacher teacher (sha256 " in (taught_dir / "run.log").read_text()


def test_a_killed_distilled_run_resumes_with_the_same_loss_curve(
    synthetic_split: Path, tmp_path: Path, teacher_models: Path
) -> None:
    # given an uninterrupted distilled run with augmentation and mixing, and the same run
    # killed (SIGKILL) at step 8, in its second epoch
    raw = resumable_config(synthetic_split, tmp_path / "reference") | {"distillation": DISTIL}
    train_model(parse_config(raw))
    reference = parse_config(raw).run_dir
    raw["run"]["output_dir"] = str(tmp_path / "runs")
    config = write_config(raw, tmp_path / "run.toml")
    assert run_child(config, stop_at=8, how="kill", resume=False).returncode == -9
    # when it is resumed (the child inherits WELLBEING_MODELS_DIR)
    resumed = run_child(config, stop_at=-1, how="kill", resume=True)
    # then every batch loss, epoch row and weight equals the uninterrupted run's
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(parse_config(raw).run_dir, reference)


def test_resume_with_another_teacher_is_refused(
    synthetic_split: Path, tmp_path: Path, teacher_models: Path
) -> None:
    # given a finished one-epoch distilled run
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path / "runs", epochs=1)
    raw["distillation"] = DISTIL
    train_model(parse_config(raw))
    # when the registered teacher is replaced by another model of the same name (the student)
    shutil.rmtree(teacher_models / "teacher")
    export_checkpoint(parse_config(raw).run_dir / "best.pt", "teacher", teacher_models)
    raw["train"]["epochs"] = 2
    # then resuming is refused, naming the teacher
    with pytest.raises(ResumeMismatch, match="teacher 'teacher' changed"):
        train_model(parse_config(raw), resume=True, allow_changed=["train.epochs"])


def test_a_teacher_with_other_inputs_is_refused_naming_the_setting(
    synthetic_split: Path, tmp_path: Path, teacher_models: Path
) -> None:
    # given a run whose inputs are normalised differently from the teacher's
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path / "runs", epochs=1)
    raw["distillation"] = DISTIL
    raw["preprocessing"]["mean"] = [0.4]
    # when it starts, then it is refused before training, naming the differing setting
    with pytest.raises(ConfigError, match=r"mean: \(0.5,\) -> \(0.4,\)"):
        train_model(parse_config(raw))
    assert not (parse_config(raw).run_dir / "checkpoints").exists()


def test_a_teacher_of_another_input_size_sees_batches_resized_to_its_size(
    teacher_models: Path,
) -> None:
    # given the 24 px teacher and a run that reads faces at 32 px
    manifest, _ = resolve_model("teacher", teacher_models)
    run = replace(manifest.preprocessing, size=32)
    teach_small, sha_small = load_teacher("teacher", manifest.preprocessing, teacher_models)
    teach_large, sha_large = load_teacher("teacher", run, teacher_models)
    # (smooth faces, as real ones are: 6 x 6 random patterns scaled up)
    coarse = torch.rand(8, 1, 6, 6, generator=torch.Generator().manual_seed(3))
    faces = F.interpolate(coarse, size=(24, 24), mode="bilinear", align_corners=False)
    # when it scores the same faces scaled up to 32 px
    large = F.interpolate(faces, size=(32, 32), mode="bicubic", align_corners=False)
    probs = teach_large(large)
    # then the resize gives back the 24 px faces, and the teacher its own probabilities for
    # them (the same teacher file)
    assert torch.allclose(resize_batch(large, 24), faces, atol=0.02)
    assert torch.allclose(probs, teach_small(faces), atol=0.02)
    assert torch.allclose(probs, teach_small(resize_batch(large, 24)), atol=1e-6)
    assert sha_large == sha_small
    # and a batch of its own size is passed through untouched
    assert resize_batch(faces, 24) is faces


def test_a_distilled_run_at_another_input_size_trains(
    synthetic_split: Path, tmp_path: Path, teacher_models: Path
) -> None:
    # given a one-epoch run at 32 px taught by the 24 px teacher
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path / "runs", epochs=1)
    raw["distillation"] = DISTIL
    raw["preprocessing"]["size"] = 32
    # when it is trained, then it finishes and its log names the teacher
    train_model(parse_config(raw))
    assert "teacher teacher (sha256 " in (parse_config(raw).run_dir / "run.log").read_text()


def test_a_teacher_of_another_size_is_refused_for_channels_last_runs(
    synthetic_split: Path, tmp_path: Path, teacher_models: Path
) -> None:
    # given a channels-last run whose input size differs from the teacher's
    manifest, _ = resolve_model("teacher", teacher_models)
    run = replace(manifest.preprocessing, size=32, layout="NHWC")
    # when the teacher is loaded, then the size and the layout are named
    with pytest.raises(ConfigError, match=r"size: 24 -> 32 \(resized for NCHW runs only\)"):
        load_teacher("teacher", run, teacher_models)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"weight": 0.5}, "needs a teacher"),
        ({"teacher": "t", "weight": 1.5}, "weight must be in"),
        ({"teacher": "t", "weight": 0.5, "temperature": 0.0}, "temperature > 0"),
        ({"teacher": "no-such-model", "weight": 0.5}, "teacher 'no-such-model'"),
    ],
)
def test_bad_distillation_settings_are_refused(
    synthetic_split: Path, tmp_path: Path, section: dict, message: str
) -> None:
    # given a config with a bad [distillation] table
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path / "runs", epochs=1)
    raw["distillation"] = section
    # when it is parsed and run, then a ConfigError says what is wrong
    with pytest.raises(ConfigError, match=message):
        train_model(parse_config(raw))
