"""Interruption-safe training: a killed run resumes exactly; changed config, changed data and
corrupted checkpoints are caught.

The killed runs are real processes: a child trains from a TOML file and is stopped by SIGKILL
(no cleanup at all) or SIGTERM from inside its per-batch hook, at a chosen optimiser step, so
the test knows the kill lands in the middle of an epoch.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from tests.training.conftest import REPO_ROOT, tiny_config, write_class_folders  # noqa: E402
from training.checkpoint_store import (  # noqa: E402
    CheckpointClock,
    list_checkpoints,
    verify_checkpoint,
    write_checkpoint,
)
from training.errors import CheckpointError  # noqa: E402
from training.resume_guard import ResumeMismatch  # noqa: E402
from training.run_logs import read_batch_losses  # noqa: E402
from training.training_config import parse_config, runs_root  # noqa: E402
from training.training_run import train_model  # noqa: E402

CHILD = """
import os, signal, sys
from pathlib import Path
from training.training_config import load_config
from training.training_run import train_model

stop_at, how, resume = int(sys.argv[2]), sys.argv[3], sys.argv[4] == "resume"

def hook(step, loss):
    if step == stop_at:
        os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGTERM)

train_model(load_config(Path(sys.argv[1])), resume=resume, after_batch=hook)
"""
STEPS_PER_EPOCH = 6  # 84 synthetic images, batch 16
EPOCHS = 3


def to_toml(raw: dict[str, Any]) -> str:
    """The tiny configs as TOML (tables of strings, numbers, booleans and lists)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\") + '"'
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    return "".join(
        f"[{name}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in table.items()) + "\n"
        for name, table in raw.items()
    )


def resumable_config(data: Path, out: Path, checkpoint_minutes: float = 0.0) -> dict[str, Any]:
    """Three epochs with every source of randomness on: shuffling, augmentation incl. small
    faces and mixup/CutMix (the run's generator), and dropout (torch's global RNG)."""
    raw = tiny_config(data, data, out, epochs=EPOCHS)
    raw["run"]["checkpoint_minutes"] = checkpoint_minutes
    raw["model"]["dropout"] = 0.3
    raw["train"]["monitor_face_px"] = 12
    raw["augmentation"] = {"enabled": True, "small_face_prob": 0.5, "mix_prob": 0.5}
    raw["augmentation"]["small_face_sizes"] = [8, 20]
    return raw


def run_child(config: Path, stop_at: int, how: str, resume: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    args = [sys.executable, "-c", CHILD, str(config), str(stop_at), how]
    args.append("resume" if resume else "fresh")
    return subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def epoch_rows(run_dir: Path) -> list[dict[str, str]]:
    """log.csv rows without the wall-clock column."""
    with (run_dir / "log.csv").open() as handle:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(handle)]


def final_weights(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "last.pt", map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture
def reference(synthetic_split: Path, tmp_path: Path) -> Path:
    """Run folder of the same run, never interrupted."""
    config = parse_config(resumable_config(synthetic_split, tmp_path / "reference"))
    train_model(config)
    return config.run_dir


def write_config(raw: dict[str, Any], path: Path) -> Path:
    path.write_text(to_toml(raw))
    return path


def assert_same_run(run_dir: Path, reference: Path) -> None:
    losses = read_batch_losses(run_dir)
    assert [s for s, _ in losses] == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
    assert losses == read_batch_losses(reference)
    assert epoch_rows(run_dir) == epoch_rows(reference)
    ours, theirs = final_weights(run_dir), final_weights(reference)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_run_killed_mid_epoch_resumes_with_the_same_loss_curve(
    synthetic_split: Path, tmp_path: Path, reference: Path
) -> None:
    # given a run that checkpoints after every batch, killed (SIGKILL) at step 8: epoch 2, batch 2
    raw = resumable_config(synthetic_split, tmp_path / "runs")
    config = write_config(raw, tmp_path / "run.toml")
    killed = run_child(config, stop_at=8, how="kill", resume=False)
    run_dir = parse_config(raw).run_dir
    assert killed.returncode == -9, killed.stderr
    assert list_checkpoints(run_dir)[0][0] == 8
    assert not (run_dir / "summary.json").exists()
    # when the same command is run again with --resume
    resumed = run_child(config, stop_at=-1, how="kill", resume=True)
    # then it continues at epoch 2 batch 3 and every batch loss, epoch row and weight equals
    # those of the uninterrupted run
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from step-000000008.pt: epoch 2 at batch 2" in resumed.stdout
    assert_same_run(run_dir, reference)


def test_sigterm_writes_a_checkpoint_and_the_resumed_run_matches(
    synthetic_split: Path, tmp_path: Path, reference: Path
) -> None:
    # given a run with only epoch-end checkpoints (interval 60 minutes), sent SIGTERM at step 9
    raw = resumable_config(synthetic_split, tmp_path / "runs", checkpoint_minutes=60.0)
    config = write_config(raw, tmp_path / "run.toml")
    stopped = run_child(config, stop_at=9, how="term", resume=False)
    run_dir = parse_config(raw).run_dir
    # then it stops after the next batch with a checkpoint there and says how to continue
    assert stopped.returncode == 1 and "stopped by SIGTERM at step 10" in stopped.stderr
    assert [step for step, _ in list_checkpoints(run_dir)] == [10, 6]
    # and when resumed, the run is the uninterrupted one
    assert run_child(config, stop_at=-1, how="kill", resume=True).returncode == 0
    assert_same_run(run_dir, reference)


def test_corrupted_latest_checkpoint_falls_back_to_the_previous_one(
    synthetic_split: Path, tmp_path: Path, reference: Path
) -> None:
    # given a run killed at step 8 whose newest checkpoint (step 8) then gets damaged on disk
    raw = resumable_config(synthetic_split, tmp_path / "runs")
    config = write_config(raw, tmp_path / "run.toml")
    assert run_child(config, stop_at=8, how="kill", resume=False).returncode == -9
    run_dir = parse_config(raw).run_dir
    newest = list_checkpoints(run_dir)[0][1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        verify_checkpoint(newest)
    # when resumed
    train_model(parse_config(raw), resume=True)
    # then it warns, continues from step 7, replays step 8 (its logged row is replaced, not
    # repeated) and ends with the uninterrupted run's curve
    log = (run_dir / "run.log").read_text()
    assert "warning: skipping checkpoint step-000000008.pt: checksum mismatch" in log
    assert "resumed from step-000000007.pt" in log
    assert_same_run(run_dir, reference)


def test_resume_with_a_changed_setting_is_refused_naming_the_key(
    synthetic_split: Path, tmp_path: Path
) -> None:
    # given a finished one-epoch run
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path, epochs=1)
    train_model(parse_config(raw))
    # when it is resumed with another learning rate and another augmentation setting
    raw["train"]["lr"] = 0.01
    raw["augmentation"]["mix_prob"] = 0.5
    with pytest.raises(ResumeMismatch) as refused:
        train_model(parse_config(raw), resume=True)
    # then the refusal names both keys with their old and new values
    assert "train.lr: 0.003 -> 0.01" in str(refused.value)
    assert "augmentation.mix_prob: '<unset>' -> 0.5" in str(refused.value)
    # and machine settings (threads) or an explicitly allowed key (epochs) may change
    raw["train"] |= {"lr": 0.003, "threads": 2, "epochs": 2}
    del raw["augmentation"]["mix_prob"]
    summary = train_model(parse_config(raw), resume=True, allow_changed=["train.epochs"])
    assert summary["epochs_run"] == 2


def test_resume_with_changed_data_is_refused_naming_the_split(tmp_path: Path) -> None:
    # given a finished one-epoch run on separate train and val folders
    train = write_class_folders(tmp_path / "train", ["angry", "happy"], per_class=6)
    val = write_class_folders(tmp_path / "val", ["angry", "happy"], per_class=3)
    config = parse_config(tiny_config(train, val, tmp_path / "runs", epochs=1))
    train_model(config)
    # when an image is added to the training data before resuming
    write_class_folders(tmp_path / "extra", ["angry"], per_class=1, seed=9)
    (tmp_path / "extra" / "angry" / "angry_0.png").rename(train / "angry" / "new.png")
    with pytest.raises(ResumeMismatch) as refused:
        train_model(config, resume=True)
    # then the message names the split, the file count and the class count that changed
    message = str(refused.value)
    assert "train data" in message and "12 -> 13 files" in message
    assert "angry 6 -> 7" in message and "val data" not in message


def test_cpu_seconds_add_up_over_resumed_processes(synthetic_split: Path, tmp_path: Path) -> None:
    # given a finished one-epoch run whose checkpoint says 1000 CPU seconds were spent before
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path, epochs=1)
    config = parse_config(raw)
    first = train_model(config)
    step, path = list_checkpoints(config.run_dir)[0]
    payload = verify_checkpoint(path)
    assert 0 < payload["loop"]["cpu_before"] <= first["cpu_seconds"]
    payload["loop"]["cpu_before"] = 1000.0
    write_checkpoint(config.run_dir, step, payload)
    # when it is resumed for one more epoch
    raw["train"]["epochs"] = 2
    summary = train_model(parse_config(raw), resume=True, allow_changed=["train.epochs"])
    # then the summary counts the earlier seconds plus this process's training
    assert 1000.0 < summary["cpu_seconds"] < 1000.0 + 60.0


def test_fresh_run_refuses_a_folder_that_holds_checkpoints(
    synthetic_split: Path, tmp_path: Path
) -> None:
    # given a finished run
    raw = tiny_config(synthetic_split, synthetic_split, tmp_path, epochs=1)
    train_model(parse_config(raw))
    # when the same run is started again without --resume
    # then it refuses rather than overwrite the checkpoints
    with pytest.raises(CheckpointError, match="pass --resume"):
        train_model(parse_config(raw))


def test_checkpoint_clock_is_due_after_the_interval() -> None:
    # given a clock with a 600 s interval that was last saved at t=100
    now = [100.0]
    clock = CheckpointClock(600.0, clock=lambda: now[0])
    # when time passes, then it is due only from t=700, and saving restarts the interval
    now[0] = 699.9
    assert not clock.due()
    now[0] = 700.0
    assert clock.due()
    clock.saved()
    assert not clock.due()


def test_runs_folder_defaults_outside_the_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given no output_dir in the config
    monkeypatch.delenv("WELLBEING_RUNS_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # then runs go to ~/.cache/wellbeing/runs, or to $WELLBEING_RUNS_DIR when set,
    assert runs_root() == tmp_path / "home" / ".cache" / "wellbeing" / "runs"
    monkeypatch.setenv("WELLBEING_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert parse_config({"run": {"name": "x"}}).run_dir == tmp_path / "elsewhere" / "x"
    # and a config's output_dir wins over both
    explicit = parse_config({"run": {"name": "x", "output_dir": str(tmp_path / "cfg")}})
    assert explicit.run_dir == tmp_path / "cfg" / "x"


def test_final_fit_adds_train_extra_and_guards_it(tmp_path: Path) -> None:
    # given separate train and val folders and a config that also trains on val
    train = write_class_folders(tmp_path / "train", ["angry", "happy"], per_class=6)
    val = write_class_folders(tmp_path / "val", ["angry", "happy"], per_class=3, seed=5)
    raw = tiny_config(train, val, tmp_path / "runs", epochs=1)
    raw["data"]["train_extra"] = [str(val)]
    # when trained
    summary = train_model(parse_config(raw))
    # then the training set holds both folders and its fingerprint covers both
    assert summary["train_class_counts"]["angry"] == 9
    assert summary["data"]["train"]["files"] == 18
    # and a change in the extra folder is caught on resume
    (val / "happy" / "happy_0.png").unlink()
    with pytest.raises(ResumeMismatch, match=r"train data .*18 -> 17 files"):
        train_model(parse_config(raw), resume=True)


def test_a_final_fit_exports_its_last_epoch_marked_as_not_held_out(tmp_path: Path) -> None:
    # given a two-epoch final fit that also trained on its val folder
    from training.export_pipeline import export_checkpoint

    train = write_class_folders(tmp_path / "train", ["angry", "happy"], per_class=6)
    val = write_class_folders(tmp_path / "val", ["angry", "happy"], per_class=3, seed=5)
    raw = tiny_config(train, val, tmp_path / "runs", epochs=2)
    raw["data"]["train_extra"] = [str(val)]
    train_model(parse_config(raw))
    run_dir = tmp_path / "runs" / raw["run"]["name"]
    # when its last.pt (the end of the fixed schedule) is exported
    export_checkpoint(run_dir / "last.pt", "final-fit", tmp_path / "models")
    # then the manifest names the last epoch and says the val figures are not held out
    data = json.loads((tmp_path / "models" / "final-fit" / "manifest.json").read_text())
    assert data["training"]["checkpoint_epoch"] == 2
    assert data["version"].endswith("-epoch2")
    assert "final fit" in data["description"] and "not held out" in data["description"]
    # and so does the card, in its data and evaluation sections
    card = (tmp_path / "models" / "final-fit" / "MODEL_CARD.md").read_text()
    assert "**The val figures below are not a held-out" in card
    assert "## Evaluation (FER-2013 val, PublicTest; seen in training, not held out)" in card
    assert "kept the last epoch (2; final fit)" in card and "best epoch" not in card


def test_a_last_epoch_export_is_not_called_a_selection_on_val(tmp_path: Path) -> None:
    # given a finished two-epoch run on train only (a final fit's twin is measured at its end)
    from training.export_pipeline import export_checkpoint

    train = write_class_folders(tmp_path / "train", ["angry", "happy"], per_class=6)
    val = write_class_folders(tmp_path / "val", ["angry", "happy"], per_class=3, seed=5)
    raw = tiny_config(train, val, tmp_path / "runs", epochs=2)
    train_model(parse_config(raw))
    run_dir = tmp_path / "runs" / raw["run"]["name"]
    # when both its last.pt and its best.pt are exported
    export_checkpoint(run_dir / "last.pt", "twin-last", tmp_path / "models")
    export_checkpoint(run_dir / "best.pt", "twin-best", tmp_path / "models")
    # then last.pt is described as the epoch the run ended with, not one picked on val
    last = json.loads((tmp_path / "models" / "twin-last" / "manifest.json").read_text())
    assert last["training"]["selected_on_val"] is False
    assert "epoch 2 as the run left it (not selected on val)" in last["description"]
    card = (tmp_path / "models" / "twin-last" / "MODEL_CARD.md").read_text()
    assert "kept epoch 2 (not selected on val)" in card and "best epoch" not in card
    assert "selected on val\n" not in card
    # and best.pt still says that val chose it
    best = json.loads((tmp_path / "models" / "twin-best" / "manifest.json").read_text())
    assert best["training"]["selected_on_val"] is True
    assert "epoch selected on FER-2013 val" in best["description"]
    best_card = (tmp_path / "models" / "twin-best" / "MODEL_CARD.md").read_text()
    assert "best epoch" in best_card and "the epoch kept was selected on val" in best_card
