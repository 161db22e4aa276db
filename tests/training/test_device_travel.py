"""A GPU call takes at most 64 MiB of working tree; the committed models make this checkout three
times that. The device-tree commands leave them out and put them back exactly, and the device's
one command trains from such a light copy (issue 13, "GPU when lent")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from inference.model_manifest import CANONICAL_CLASSES
from tests.training.conftest import FER_ARCHIVE, REPO_ROOT, write_class_folders
from training.device_travel import (
    DEVICE_TREE_LIMIT_BYTES,
    LEFT_BEHIND,
    lighten_tree,
    restore_tree,
    travel_bytes,
    travelling_files,
)
from training.errors import TrainingError


def run_git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A small repository shaped like ours: code, a committed model, an untracked file."""
    repo = tmp_path / "repo"
    (repo / "inference" / "models" / "m").mkdir(parents=True)
    (repo / "inference" / "models" / "m" / "model.onnx").write_bytes(b"\0" * 50_000)
    (repo / "training").mkdir()
    (repo / "training" / "cli.py").write_text("print('train')\n")
    run_git(repo.parent, "init", "-q", str(repo))
    run_git(repo, "add", "-A")
    run_git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    (repo / "notes.txt").write_text("not yet committed\n")
    return repo


def state(repo: Path) -> tuple[str, str, str]:
    """What lightening must leave unchanged once restored: status, index, exclude file."""
    exclude = (repo / ".git" / "info" / "exclude").read_text()
    return run_git(repo, "status", "--porcelain"), run_git(repo, "ls-files", "-s"), exclude


def test_lightening_leaves_the_models_out_and_restoring_puts_everything_back(
    checkout: Path,
) -> None:
    # given a checkout whose committed model is most of its size
    before = state(checkout)
    assert travel_bytes(checkout) > 50_000
    # when it is lightened
    lighten_tree(checkout)
    # then the model no longer travels, though it is still on disk, and the rest does
    names = {p.relative_to(checkout).as_posix() for p in travelling_files(checkout)}
    assert names == {"training/cli.py", "notes.txt"}
    assert (checkout / "inference/models/m/model.onnx").is_file()
    assert travel_bytes(checkout) < 1_000
    # and a second lightening is refused
    with pytest.raises(TrainingError, match="already lightened"):
        lighten_tree(checkout)
    # when it is restored, then status, index and exclude file are exactly as before
    assert restore_tree(checkout) == list(LEFT_BEHIND)
    assert state(checkout) == before
    with pytest.raises(TrainingError, match="not lightened"):
        restore_tree(checkout)


def test_an_exclude_file_without_a_final_newline_keeps_its_last_pattern(checkout: Path) -> None:
    # given an exclude file whose last pattern has no newline after it
    exclude = checkout / ".git" / "info" / "exclude"
    exclude.write_text("*.log")
    (checkout / "debug.log").write_text("ignored\n")
    before = state(checkout)
    # when lightened, then that pattern still ignores its file, and restoring gives the same bytes
    lighten_tree(checkout)
    assert "debug.log" not in {p.name for p in travelling_files(checkout)}
    restore_tree(checkout)
    assert state(checkout) == before and exclude.read_text() == "*.log"


def test_uncommitted_model_changes_are_refused_before_anything_changes(checkout: Path) -> None:
    # given a model file changed but not committed
    (checkout / "inference/models/m/model.onnx").write_bytes(b"changed")
    before = state(checkout)
    # when lightening is asked for, then it is refused, naming the file, and nothing changed
    with pytest.raises(TrainingError, match=r"model\.onnx"):
        lighten_tree(checkout)
    assert state(checkout) == before


def test_a_commit_made_while_light_is_caught_at_restore(checkout: Path) -> None:
    # given a lightened tree in which someone committed (recording the models as deleted)
    lighten_tree(checkout)
    run_git(checkout, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "x")
    # when restoring, then it is refused with the way out, and the marker stays
    with pytest.raises(TrainingError, match="git reset --soft"):
        restore_tree(checkout)
    # and following that advice, the restore succeeds and the models are tracked again
    run_git(checkout, "reset", "-q", "--soft", "HEAD~1")
    restore_tree(checkout)
    assert "inference/models/m/model.onnx" in run_git(checkout, "ls-files")
    assert run_git(checkout, "status", "--porcelain") == "?? notes.txt\n"


def test_this_checkout_fits_the_device_once_light_with_fer2013_carried() -> None:
    # given this repository and the FER-2013 archive the GPU run needs
    if not FER_ARCHIVE.is_file():
        pytest.skip(f"shared FER-2013 archive not found at {FER_ARCHIVE}")
    # when the models are left out, then code plus the archive fit the device's 64 MiB
    light = travel_bytes(REPO_ROOT, leaving_out=LEFT_BEHIND) + FER_ARCHIVE.stat().st_size
    assert light <= DEVICE_TREE_LIMIT_BYTES, f"{light / 2**20:.1f} MiB would travel"


def tiny_gpu_config(path: Path) -> Path:
    """The GPU recipe's shape (fer-folder data under .data, no output_dir) at toy scale."""
    path.write_text(
        '[run]\nname = "device-toy"\nseed = 3\n'
        '[data]\nformat = "fer-folder"\ntrain = ".data/fer2013/train"\n'
        'val = ".data/fer2013/val"\n'
        "[preprocessing]\nsize = 24\nmean = [0.5]\nstd = [0.3]\n"
        '[model]\nfamily = "baseline"\nwidth = 0.25\ndropout = 0.0\n'
        "[train]\nepochs = 2\nbatch_size = 16\nlr = 0.003\nweight_decay = 0.0\n"
        "early_stopping_patience = 5\nthreads = 1\n"
        "[augmentation]\nenabled = false\n"
    )
    return path


def light_copy(target: Path) -> Path:
    """What a GPU call would receive from this checkout once lightened."""
    for source in travelling_files(REPO_ROOT, leaving_out=LEFT_BEHIND):
        relative = source.relative_to(REPO_ROOT)
        if relative.parts[0] in {".data", ".runs"}:
            continue  # ignored here; only the carried archive goes
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / relative)
    return target


def test_the_device_command_trains_from_the_light_copy_and_returns_the_weights(
    tmp_path: Path,
) -> None:
    # given the light copy, with a small FER-shaped archive carried as .data/fer2013.tar.gz
    pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")
    device = light_copy(tmp_path / "device")
    assert not (device / "inference" / "models").exists()
    names = list(CANONICAL_CLASSES)
    faces = tmp_path / "faces" / "fer2013"
    write_class_folders(faces / "train", names, per_class=6)
    write_class_folders(faces / "val", names, per_class=3, seed=1)
    (device / ".data").mkdir()
    with tarfile.open(device / ".data" / "fer2013.tar.gz", "w:gz") as tar:
        tar.add(faces, arcname="fer2013")
    config = tiny_gpu_config(device / "toy.toml")
    out = tmp_path / "out"
    out.mkdir()
    # when the device's one command runs there (on this CPU, as on a GPU without CUDA)
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable}
    env["WELLBEING_RUNS_DIR"] = str(tmp_path / "runs")
    done = subprocess.run(
        ["bash", "training/device_train.sh", str(config), "1"],
        cwd=device,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # then it succeeds and $OUT holds the weights and the run's records, each under 16 MiB
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"best.pt", "summary.json", "log.csv", "run.log"} <= {p.name for p in out.iterdir()}
    assert all(p.stat().st_size < 16 * 2**20 for p in out.iterdir())
    from training.checkpoints import load_model

    _, preprocessing, payload = load_model(out / "best.pt")
    assert preprocessing.size == 24 and "optimizer" not in payload
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 2


def test_the_command_refuses_a_carry_that_cannot_fit_and_changes_nothing(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a checkout whose ignored data folder holds an archive larger than the device takes
    from training.cli import main

    (checkout / ".gitignore").write_text("/.data/\n")
    (checkout / ".data").mkdir()
    with (checkout / ".data" / "big.tar.gz").open("wb") as big:
        big.truncate(DEVICE_TREE_LIMIT_BYTES + 1)  # sparse: its size without the disk
    monkeypatch.chdir(checkout / "training")  # paths count from the top folder, as the tool's
    before = state(checkout)
    # when lightening with it carried, then the command refuses and nothing changed
    assert main(["device-tree", "lighten", "--carry", ".data/big.tar.gz"]) == 2
    assert "nothing changed" in capsys.readouterr().err
    assert state(checkout) == before
    # and without it, the tree is lightened and the JSON says it fits
    assert main(["device-tree", "lighten"]) == 0
    assert json.loads(capsys.readouterr().out)["fits"] is True
    assert main(["device-tree", "restore"]) == 0
    assert state(checkout) == before
