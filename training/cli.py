"""Command-line interface; every TrainingError becomes a one-line message and exit code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.errors import TrainingError


def command_train(args: argparse.Namespace) -> int:
    from training.training_config import load_config
    from training.training_run import train_model

    config = load_config(Path(args.config))
    train_model(config, Path(args.config), resume=args.resume)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model from a TOML config")
    train.add_argument("--config", required=True, help="e.g. training/configs/resnet.toml")
    train.add_argument("--resume", action="store_true", help="continue from the run's last.pt")
    train.set_defaults(handler=command_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
