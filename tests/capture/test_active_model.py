"""Workers follow a newly activated emotion model without a restart (models load once)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from capture.active_model import engine_on_active_model, keep_on_active_model
from capture.models import ProcessedFrame
from inference import FaceEngine
from inference.model_manifest import DEFAULT_MODELS_DIR, set_active_model
from tests.capture.conftest import post_frame, read_face, start_session

FIRST, SECOND = "fer-mini-xception", "resnet-fer-v1"


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: Any) -> Path:
    """A models directory with the shipped models (linked) whose registry names FIRST."""
    base = tmp_path / "models"
    base.mkdir()
    for model in Path(DEFAULT_MODELS_DIR).iterdir():
        if model.is_dir():
            (base / model.name).symlink_to(model)
    set_active_model(FIRST, base)
    monkeypatch.setenv("WELLBEING_MODELS_DIR", str(base))
    return base


def test_engine_switches_when_another_model_is_activated(models_dir: Path) -> None:
    # given an engine that loaded the active model once
    engine = keep_on_active_model(FaceEngine())
    assert engine.classifier.manifest.name == FIRST
    classifier = engine.classifier
    # when nothing changes, the model is not reloaded
    assert keep_on_active_model(engine).classifier is classifier
    # when the operator activates another model
    set_active_model(SECOND, models_dir)
    # then the next frame's engine uses it
    assert keep_on_active_model(engine).classifier.manifest.name == SECOND


def test_a_broken_new_model_keeps_the_current_one(
    models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given an engine on the first model and a registered model whose file fails its checksum
    engine = keep_on_active_model(FaceEngine())
    broken = models_dir / "broken"
    broken.mkdir()
    shutil.copy(models_dir / SECOND / "manifest.json", broken / "manifest.json")
    (broken / "model.onnx").write_bytes(b"not the model the manifest describes")
    # when it is activated
    set_active_model("broken", models_dir)
    with caplog.at_level(logging.ERROR, logger="capture.active_model"):
        kept = keep_on_active_model(engine)
    # then frames keep being analysed with the current model, and the failure is logged
    assert kept.classifier.manifest.name == FIRST
    assert "broken" in caplog.text or "checksum" in caplog.text


@pytest.mark.django_db
def test_the_worker_path_uses_the_active_model(
    models_dir: Path, camera: Any, obama: Any, monkeypatch: Any
) -> None:
    # given the registry names SECOND when a frame is processed (Celery eager)
    set_active_model(SECOND, models_dir)
    try:
        session_id = start_session(camera[1]).json()["session_id"]
        post_frame(camera[1], session_id, 1, read_face("scenes/obama_240p.jpg"))
        # then the frame was stored by the process engine, now on SECOND
        assert ProcessedFrame.objects.count() == 1
        assert engine_on_active_model().classifier.manifest.name == SECOND
    finally:
        # the process engine goes back to the shipped registry's model for later tests
        monkeypatch.delenv("WELLBEING_MODELS_DIR")
        engine_on_active_model()
