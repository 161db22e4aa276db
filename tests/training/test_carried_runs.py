"""Runs carried between machines through the repository (pack-run / unpack-run).

A run stopped by SIGTERM on one "machine" is packed, its run folder deleted (the next session's
machine has none), unpacked and resumed: it must continue the same curve, exactly up to the
packed step and within the bfloat16 rounding of the optimiser moments after it. The tolerance
was set from measurement: the carried run stays within 3e-5 of the uninterrupted run's batch
losses, while a carry that loses the optimiser moments (zeroed) departs by 0.02-0.14.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from tests.training.test_interrupted_training import (  # noqa: E402
    EPOCHS,
    STEPS_PER_EPOCH,
    final_weights,
    resumable_config,
    run_child,
    write_config,
)
from training.checkpoint_store import list_checkpoints, sidecar, verify_checkpoint  # noqa: E402
from training.cli import main  # noqa: E402
from training.errors import CheckpointError  # noqa: E402
from training.run_carrying import pack_run, read_pack, unpack_run  # noqa: E402
from training.run_logs import read_batch_losses  # noqa: E402
from training.training_config import TrainingConfig, parse_config  # noqa: E402
from training.training_run import train_model  # noqa: E402

STOPPED_AT = 10  # SIGTERM after step 9 lets the run finish step 10 and checkpoint there


@pytest.fixture
def stopped_run(synthetic_split: Path, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """(raw config, config file) of a run stopped by SIGTERM at step 10 (epoch 2, batch 4)."""
    raw = resumable_config(synthetic_split, tmp_path / "runs", checkpoint_minutes=60.0)
    config_file = write_config(raw, tmp_path / "run.toml")
    assert run_child(config_file, stop_at=9, how="term", resume=False).returncode == 1
    return raw, config_file


@pytest.fixture
def uninterrupted(synthetic_split: Path, tmp_path: Path) -> Path:
    config = parse_config(resumable_config(synthetic_split, tmp_path / "reference"))
    train_model(config)
    return config.run_dir


def test_a_packed_run_continues_on_a_machine_without_its_run_folder(
    stopped_run: tuple[dict[str, Any], Path], uninterrupted: Path, tmp_path: Path
) -> None:
    # given a stopped run packed into a file, and its run folder gone with the old machine
    config = parse_config(stopped_run[0])
    packed = pack_run(config, tmp_path / "carried" / "run.pt")
    shutil.rmtree(config.run_dir)
    # when it is unpacked and resumed
    unpacked = unpack_run(config, tmp_path / "carried" / "run.pt")
    train_model(config, resume=True)
    # then it resumes at the packed step and ends the schedule like the uninterrupted run:
    # identical losses up to the packed step, within bfloat16 rounding after it
    assert (packed["step"], packed["epoch"]) == (STOPPED_AT, 2)
    assert unpacked["pack_sha256"] == sidecar(tmp_path / "carried" / "run.pt").read_text().strip()
    log = (config.run_dir / "run.log").read_text()
    assert "unpacked run.pt" in log and "resumed from step-000000010.pt: epoch 2" in log
    ours, reference = read_batch_losses(config.run_dir), read_batch_losses(uninterrupted)
    assert [step for step, _ in ours] == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
    assert ours[:STOPPED_AT] == reference[:STOPPED_AT]
    gaps = [abs(float(a) - float(b)) for (_, a), (_, b) in zip(ours, reference, strict=True)]
    assert 0 < max(gaps) < 1e-3
    weights, expected = final_weights(config.run_dir), final_weights(uninterrupted)
    assert max((weights[k].float() - expected[k].float()).abs().max() for k in expected) < 0.02


def test_the_pack_keeps_weights_exact_and_moments_as_bfloat16(
    stopped_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    # given a stopped run's newest checkpoint
    config = parse_config(stopped_run[0])
    checkpoint = verify_checkpoint(list_checkpoints(config.run_dir)[0][1])
    # when it is packed
    packed = read_pack(Path(pack_run(config, tmp_path / "run.pt")["path"]))
    # then weights, schedule and RNG states are the checkpoint's, the moments are bfloat16
    # copies of its moments, and the run's records travel with it
    carried = packed["checkpoint"]
    state_dict = checkpoint["state_dict"]
    assert all(torch.equal(carried["state_dict"][k], state_dict[k]) for k in state_dict)
    assert carried["scheduler"] == checkpoint["scheduler"]
    assert torch.equal(carried["generator"], checkpoint["generator"])
    for index, slots in checkpoint["optimizer"]["state"].items():
        moment = carried["optimizer"]["state"][index]["exp_avg_sq"]
        assert moment.dtype == torch.bfloat16
        assert torch.allclose(moment.float(), slots["exp_avg_sq"], rtol=2**-8, atol=0)
    # (config.toml is copied by the command line only, which this child did not use)
    assert set(packed["records"]) == {"run.log", "log.csv", "batches.csv"}


def test_unpack_refuses_a_run_folder_that_is_as_new_and_another_run(
    stopped_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    # given a packed run whose run folder still holds the packed step
    raw = stopped_run[0]
    config = parse_config(raw)
    pack_run(config, tmp_path / "run.pt")
    before = (config.run_dir / "run.log").read_text()
    # when it is unpacked over that folder, then it refuses and leaves the folder as it was
    with pytest.raises(CheckpointError, match="already holds step 10"):
        unpack_run(config, tmp_path / "run.pt")
    assert (config.run_dir / "run.log").read_text() == before
    # and a config naming another run is refused, naming both
    other = parse_config({**raw, "run": {**raw["run"], "name": "another-run"}})
    with pytest.raises(CheckpointError, match=r"holds run 'tiny-baseline'.*'another-run'"):
        unpack_run(other, tmp_path / "run.pt")
    assert not other.run_dir.exists()


def test_a_corrupted_or_missing_pack_is_reported(
    stopped_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    # given a packed run that is then damaged on disk
    config: TrainingConfig = parse_config(stopped_run[0])
    path = Path(pack_run(config, tmp_path / "run.pt")["path"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    shutil.rmtree(config.run_dir)
    # when it is unpacked, then the checksum catches it and no run folder is made
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        unpack_run(config, path)
    assert not config.run_dir.exists()
    with pytest.raises(CheckpointError, match="no packed run at"):
        unpack_run(config, tmp_path / "missing.pt")


def test_pack_and_unpack_commands(
    stopped_run: tuple[dict[str, Any], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a stopped run's config file
    raw, config_file = stopped_run
    out = tmp_path / "run.pt"
    # when it is packed, its folder removed and unpacked by the commands
    assert main(["pack-run", "--config", str(config_file), "--out", str(out)]) == 0
    packed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    shutil.rmtree(parse_config(raw).run_dir)
    assert main(["unpack-run", "--config", str(config_file), "--from", str(out)]) == 0
    unpacked = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # then both report the step, and unpacking again is refused with exit code 2
    assert packed["step"] == unpacked["step"] == STOPPED_AT and packed["bytes"] > 0
    assert main(["unpack-run", "--config", str(config_file), "--from", str(out)]) == 2
    assert "already holds step 10" in capsys.readouterr().err
