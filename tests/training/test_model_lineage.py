"""Model lineage: the runs a registered model builds on (starts, teachers' members), each counted
once, their CPU time on the model card, and what cannot be traced named rather than guessed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from inference.model_manifest import CANONICAL_CLASSES, ManifestError, active_model_name
from tests.training.conftest import REPO_ROOT
from training.cli import main
from training.model_lineage import lineage_lines, trace_lineage

MODELS = REPO_ROOT / "inference" / "models"


def run_record(
    command: str, cpu_hours: float | None, start: str = "", teacher: str = ""
) -> dict[str, Any]:
    """A manifest's ``training`` record: one run, 1 h of wall time."""
    config: dict[str, Any] = {"model": {"pretrained": start}}
    if teacher:
        config["distillation"] = {"teacher": teacher}
    cpu = None if cpu_hours is None else cpu_hours * 3600
    return {
        "command": command,
        "seed": 1,
        "train_seconds": 3600.0,
        "cpu_seconds": cpu,
        "config": config,
    }


def register(models: Path, name: str, training: dict[str, Any]) -> None:
    folder = models / name
    folder.mkdir(parents=True)
    manifest = {
        "name": name,
        "version": "1",
        "classes": list(CANONICAL_CLASSES),
        "preprocessing": {"color": "gray", "size": 48, "mean": [0.0], "std": [1.0]},
        "file": "model.onnx",
        "sha256": "0" * 64,
        "licence": "test",
        "source": "test",
        "training": training,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def distilled_chain(tmp_path: Path) -> Path:
    """base (2 CPU h) and its mirror form; member (3 CPU h); teacher = base-mirror + member;
    student (1.5 CPU h) from base's weights, taught by teacher; and the student's final form."""
    base, member = run_record("train base", 2.0), run_record("train member", 3.0)
    student = run_record("train student", 1.5, ".runs/base-trainable.pt", "teacher")
    register(tmp_path, "base", base)
    register(tmp_path, "base-mirror", base)
    register(tmp_path, "member", member)
    members = [{"name": "base-mirror"}, {"name": "member"}]
    register(tmp_path, "teacher", {**base, "ensemble": {"members": members}})
    register(tmp_path, "student", student)
    register(tmp_path, "student-mirror-cal", student)
    return tmp_path


def test_each_run_a_model_builds_on_counts_once(distilled_chain: Path) -> None:
    # given a calibrated student whose start is also a member of its teacher
    # when its lineage is traced
    lineage = trace_lineage("student-mirror-cal", distilled_chain)
    # then its own run, its start and the teacher's other member count, the start only once
    assert [run.model for run in lineage.runs] == ["student-mirror-cal", "base", "member"]
    assert [run.via for run in lineage.runs] == [
        "this model's own fit",
        "start of student-mirror-cal",
        "member of teacher",
    ]
    assert lineage.cpu_hours == pytest.approx(6.5)
    assert lineage.untraced == ()


def test_what_cannot_be_traced_is_named_not_guessed(tmp_path: Path) -> None:
    # given a model whose start file follows no convention and whose teacher was never committed
    register(tmp_path, "orphan", run_record("train orphan", 1.0, "weights/custom.pt", "gone"))
    # when its lineage is traced
    lineage = trace_lineage("orphan", tmp_path)
    # then only its own run counts and both parents are named as not traced
    assert lineage.cpu_hours == pytest.approx(1.0)
    assert len(lineage.untraced) == 2
    assert "weights/custom.pt" in lineage.untraced[0]
    assert lineage.untraced[1] == "teacher of orphan: gone (not registered here)"


def test_a_start_named_like_a_trainable_file_of_a_missing_model_is_not_traced(
    tmp_path: Path,
) -> None:
    # given a start file named for a model that is not registered
    register(tmp_path, "child", run_record("train child", 1.0, ".runs/lost-trainable.pt"))
    # when traced, then the start is reported, not counted
    lineage = trace_lineage("child", tmp_path)
    assert [run.model for run in lineage.runs] == ["child"]
    assert lineage.untraced == (
        "start of child: .runs/lost-trainable.pt (no registered model of that name)",
    )


def test_a_run_without_cpu_accounting_is_listed_apart(distilled_chain: Path) -> None:
    # given a chain whose first run recorded no CPU time
    manifest_path = distilled_chain / "base" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["training"]["cpu_seconds"] = None
    manifest_path.write_text(json.dumps(manifest))
    # when traced and rendered for the card
    lineage = trace_lineage("student", distilled_chain)
    lines = "\n".join(lineage_lines(lineage))
    # then the total leaves it out and the card says so, with its wall time
    assert lineage.cpu_hours == pytest.approx(4.5)
    assert [run.model for run in lineage.runs_without_cpu] == ["base"]
    assert "**4.50 CPU hours** over 2 runs" in lines
    assert "no CPU time (not in the total): base (1.00 h wall)" in lines
    assert "| base | start of student | not recorded |" in lines


def test_an_unregistered_model_is_refused(tmp_path: Path) -> None:
    # given an empty models folder, when a lineage is asked for, then it is refused by name
    with pytest.raises(ManifestError, match="no registered model 'nope'"):
        trace_lineage("nope", tmp_path)


def test_the_active_models_card_states_the_lineage_traced_now() -> None:
    # given the shipped active model and the registered models beside it
    active = active_model_name(MODELS)
    # when its lineage is traced
    lineage = trace_lineage(active, MODELS)
    card = (MODELS / active / "MODEL_CARD.md").read_text()
    # then every parent is registered and the committed card holds exactly this lineage
    assert lineage.untraced == ()
    assert lineage.runs[0].model == active and len(lineage.runs) > 10
    assert "\n".join(lineage_lines(lineage)) in card


def test_model_card_command_rewrites_the_card_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given copies of the registered models' manifests, the active model's card out of date
    for manifest in MODELS.glob("*/manifest.json"):
        (tmp_path / manifest.parent.name).mkdir()
        shutil.copy(manifest, tmp_path / manifest.parent.name / "manifest.json")
    active = active_model_name(MODELS)
    before = (tmp_path / active / "manifest.json").read_bytes()
    # when `python -m training model-card` rewrites it
    code = main(["model-card", active, "--models-dir", str(tmp_path)])
    # then the card is the shipped one, the manifest is untouched, and the total is printed
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and (tmp_path / active / "manifest.json").read_bytes() == before
    card = (tmp_path / active / "MODEL_CARD.md").read_text()
    assert card == (MODELS / active / "MODEL_CARD.md").read_text()
    assert report["cpu_hours"] == round(trace_lineage(active, MODELS).cpu_hours, 3)


def test_model_card_command_refuses_an_unknown_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given an empty models folder, when asked for a card, then one clear line and exit code 2
    assert main(["model-card", "nope", "--models-dir", str(tmp_path)]) == 2
    assert "no registered model 'nope'" in capsys.readouterr().err
