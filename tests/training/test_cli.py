"""The command line: errors are one clear line and exit code 2, evaluate prints JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")

from tests.training.conftest import REPO_ROOT, write_class_folders
from training.cli import main


def test_missing_config_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a config path that does not exist
    # when training is started
    code = main(["train", "--config", str(tmp_path / "nope.toml")])
    # then the exit code is 2 and stderr says why, without a traceback
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot read config")


def test_unknown_model_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # given an empty models directory
    # when a model that does not exist is evaluated
    code = main(["evaluate", "--model", "nope", "--models-dir", str(tmp_path)])
    # then the error comes from the registry, as one line
    assert code == 2 and "error:" in capsys.readouterr().err


def test_evaluate_checkpoint_with_tta(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a trained checkpoint and a labelled folder of 24x24 faces
    data = write_class_folders(tmp_path / "val", ["angry", "happy"], per_class=3)
    # when evaluated with TTA and an output folder
    args = ["evaluate", "--model", str(trained_run / "best.pt"), "--data", str(data)]
    code = main([*args, "--format", "folder", "--tta", "--out", str(tmp_path / "out")])
    # then the last line is JSON with both TTA modes and the PNGs exist
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and set(last) == {"tta_off", "tta_on"}
    assert (tmp_path / "out" / "confusion_tta_on.png").is_file()
    assert (tmp_path / "out" / "evaluation.json").is_file()


def test_machine_overrides_are_recorded_in_the_config() -> None:
    from training.cli import override_train
    from training.training_config import load_config

    # given the shipped resnet config
    config = load_config(REPO_ROOT / "training" / "configs" / "resnet.toml")
    # when --threads 1 --max-minutes 30 are applied
    changed = override_train(config, 1, 30.0)
    # then both the settings and the raw config (stored in checkpoints) carry them
    assert (changed.train.threads, changed.train.max_minutes) == (1, 30.0)
    assert changed.raw["train"]["threads"] == 1 and changed.raw["train"]["max_minutes"] == 30.0
    assert override_train(config, None, None) is config


def test_export_notes_are_repeatable() -> None:
    from training.cli import build_parser

    # given an export command line with two --note options
    argv = ["export", "best.pt", "--name", "m", "--note", "first", "--note", "second"]
    # when parsed, then both notes are kept in order (they become the model card's Notes)
    assert build_parser().parse_args(argv).note == ["first", "second"]


def test_every_command_reaches_its_own_handler() -> None:
    from training import cli_parser
    from training.cli import HANDLERS, build_parser

    # given the training CLI's parser
    parser = build_parser()
    # when its commands are listed
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    # then each one is wired to the handler named for it (train -> command_train), none left out
    assert set(commands.choices) == set(HANDLERS) == set(cli_parser.COMMANDS)
    for name, command in commands.choices.items():
        handler = command.get_default("handler")
        assert handler.__name__ == "command_" + name.replace("-", "_"), name


def test_a_command_without_a_handler_fails_when_the_parser_is_built() -> None:
    from training import cli_parser
    from training.cli import HANDLERS

    # given handlers that lack one command's
    partial = {name: handler for name, handler in HANDLERS.items() if name != "bench"}
    # when the parser is built, then it refuses at once, naming the command
    with pytest.raises(KeyError, match="bench"):
        cli_parser.build_parser(None, partial)


def test_evaluate_reports_accuracy_by_face_size(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a trained 24x24 checkpoint and a labelled folder
    data = write_class_folders(tmp_path / "val", ["angry", "happy", "sad"], per_class=4)
    # when evaluated with --face-sizes
    args = ["evaluate", "--model", str(trained_run / "best.pt"), "--data", str(data)]
    code = main([*args, "--format", "folder", "--face-sizes", "24,8,4", "--out", str(tmp_path)])
    # then the JSON line has one entry per size; at the input size it is the plain accuracy
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    by_px = last["by_face_px"]
    assert code == 0 and list(by_px) == ["24", "8", "4"]
    assert by_px["24"]["accuracy"] == last["tta_off"]["accuracy"]
    assert json.loads((tmp_path / "by_face_px.json").read_text()) == by_px
