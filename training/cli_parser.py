"""The argument parser of ``python -m training``: one function a command, each returning the
command's parser so that ``training.cli`` can attach its handler.

Kept apart from the handlers so that each stays short; nothing here imports torch.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from inference.model_manifest import models_dir

DEFAULT_VAL = ".data/fer2013/val"

Handler = Callable[[argparse.Namespace], int]
Subparsers = Any  # argparse's _SubParsersAction, private and generic


def add_model_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        help="a checkpoint (.pt), a run name (its best.pt in the runs folder, "
        "~/.cache/wellbeing/runs or $WELLBEING_RUNS_DIR, or .runs/) or a registered model",
    )
    parser.add_argument("--models-dir", default=str(models_dir()), help="registered models")


def add_labelled_split(parser: argparse.ArgumentParser) -> None:
    """--data, --format and --split: the labelled faces that load_eval_data reads."""
    parser.add_argument(
        "--data", default=DEFAULT_VAL, help=f"split folder or csv (default {DEFAULT_VAL})"
    )
    parser.add_argument(
        "--format",
        default="fer-folder",
        help="fer-folder, fer-csv, rafdb, ckplus, affectnet, folder",
    )
    parser.add_argument(
        "--split", default="PublicTest", help="Usage for fer-csv, prefix for RAF-DB lists"
    )


def add_judging_options(parser: argparse.ArgumentParser, face_sizes_help: str) -> None:
    """The models folder, labelled split, face sizes, JSON report and threads of a judgement
    against a baseline (``compare``, ``weigh-members``)."""
    parser.add_argument("--models-dir", default=str(models_dir()), help="registered models")
    add_labelled_split(parser)
    parser.add_argument(
        "--face-sizes", default="48,32,24,16", metavar="PX,...", help=face_sizes_help
    )
    parser.add_argument("--out", help="also write the report as JSON to this file")
    parser.add_argument(
        "--threads", type=int, default=1, help="onnxruntime threads for ONNX models"
    )


def add_derived_model_options(parser: argparse.ArgumentParser) -> None:
    """--name, --models-dir and --data of a command that derives a new registered model from
    registered ones and measures it on val (``mirror-tta``, ``calibrate``, ``ensemble``)."""
    parser.add_argument("--name", required=True, help="new model folder name under --models-dir")
    parser.add_argument("--models-dir", default=str(models_dir()))
    parser.add_argument("--data", default=DEFAULT_VAL, help=f"val folder (default {DEFAULT_VAL})")


def add_train_command(sub: Subparsers) -> argparse.ArgumentParser:
    train = sub.add_parser("train", help="train a model from a TOML config")
    train.add_argument("--config", required=True, help="e.g. training/configs/resnet.toml")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue exactly from the run's newest good checkpoint (same config and data)",
    )
    train.add_argument(
        "--allow-changed",
        action="append",
        metavar="KEY",
        help="with --resume: accept a deliberate change of this config key, e.g. train.epochs "
        "(repeatable; the replay is then no longer exact)",
    )
    train.add_argument("--threads", type=int, help="override [train] threads (CPU only)")
    train.add_argument("--max-minutes", type=float, help="override [train] max_minutes")
    return train


def add_pack_run_command(sub: Subparsers) -> argparse.ArgumentParser:
    pack = sub.add_parser(
        "pack-run",
        help="the run's newest checkpoint and logs -> training/carried-runs/<run>.pt, to commit "
        "so that a later session on another machine can continue it",
    )
    pack.add_argument("--config", required=True, help="the run's config")
    pack.add_argument("--out", help="file to write (default training/carried-runs/<run>.pt)")
    return pack


def add_device_tree_command(sub: Subparsers) -> argparse.ArgumentParser:
    tree = sub.add_parser(
        "device-tree",
        help="what a GPU call would send (JSON); lighten: leave the committed models out of it; "
        "restore: put them back (docs/training.md, A GPU run)",
    )
    tree.add_argument("action", choices=["size", "lighten", "restore"])
    tree.add_argument(
        "--carry", nargs="*", default=[], help="paths the call will carry (from the top folder)"
    )
    return tree


def add_unpack_run_command(sub: Subparsers) -> argparse.ArgumentParser:
    unpack = sub.add_parser(
        "unpack-run", help="a packed run -> its run folder, ready for train --resume"
    )
    unpack.add_argument("--config", required=True, help="the run's config")
    unpack.add_argument(
        "--from", dest="source", help="packed file (default training/carried-runs/<run>.pt)"
    )
    return unpack


def add_evaluate_command(sub: Subparsers) -> argparse.ArgumentParser:
    ev = sub.add_parser("evaluate", help="metrics and confusion PNG on a labelled split")
    add_model_source(ev)
    add_labelled_split(ev)
    ev.add_argument("--tta", action="store_true", help="also report test-time augmentation")
    ev.add_argument(
        "--face-sizes",
        metavar="PX,...",
        help="also report accuracy on faces shrunk to these sizes and scaled back up, "
        "e.g. 48,32,24,16",
    )
    ev.add_argument("--out", help="folder for confusion PNGs and evaluation.json")
    ev.add_argument("--threads", type=int, default=1, help="onnxruntime threads for ONNX models")
    return ev


def add_compare_command(sub: Subparsers) -> argparse.ArgumentParser:
    cmp = sub.add_parser(
        "compare",
        help="two models on the same faces: accuracy by face size, exact McNemar, ECE, "
        "agreement, and the shipping rule's verdict (b the candidate, a the baseline)",
    )
    cmp.add_argument("models", nargs=2, metavar="MODEL", help="a (baseline) then b (candidate)")
    add_judging_options(cmp, "face sizes; ECE and the rule's gain are taken at the largest")
    return cmp


def add_explain_command(sub: Subparsers) -> argparse.ArgumentParser:
    ex = sub.add_parser("explain", help="Grad-CAM and occlusion maps for one face image")
    add_model_source(ex)
    ex.add_argument("image", help="a face crop image")
    ex.add_argument("--out", required=True, help="PNG to write")
    return ex


def add_export_command(sub: Subparsers) -> argparse.ArgumentParser:
    exp = sub.add_parser("export", help="checkpoint -> ONNX + manifest + model card")
    exp.add_argument("checkpoint", help="e.g. .runs/resnet-w075-fer/best.pt")
    exp.add_argument("--name", required=True, help="model folder name under --models-dir")
    exp.add_argument("--models-dir", default=str(models_dir()))
    exp.add_argument("--quantize", action="store_true", help="also build and compare INT8")
    exp.add_argument("--ship-int8", action="store_true", help="ship the INT8 file as model.onnx")
    exp.add_argument(
        "--note",
        action="append",
        help="a line for the model card's Notes (repeatable), e.g. what a GPU run should do next",
    )
    return exp


def add_mirror_tta_command(sub: Subparsers) -> argparse.ArgumentParser:
    mirror = sub.add_parser(
        "mirror-tta", help="registered model -> new model that averages each face and its mirror"
    )
    mirror.add_argument("source", help="registered model name, e.g. resnet-fer-v1")
    add_derived_model_options(mirror)
    mirror.add_argument(
        "--int8-train",
        metavar="DIR",
        help="quantize the source to static INT8 first, calibrated on 512 faces of DIR "
        "(e.g. .data/fer2013/train)",
    )
    return mirror


def add_calibrate_command(sub: Subparsers) -> argparse.ArgumentParser:
    cal = sub.add_parser(
        "calibrate",
        help="registered model -> new model with temperature scaling (fitted on val) in the graph",
    )
    cal.add_argument("source", help="registered model name, e.g. resnet-fer-v1-mirror-int8")
    add_derived_model_options(cal)
    cal.add_argument(
        "--temperature-from",
        metavar="MODEL",
        help="apply the temperature of this calibrated model instead of fitting one (required "
        "for a final fit on train+val: pass its train-only twin)",
    )
    return cal


def add_ensemble_command(sub: Subparsers) -> argparse.ArgumentParser:
    ens = sub.add_parser(
        "ensemble", help="registered models -> one model averaging their probabilities"
    )
    ens.add_argument("members", nargs="+", help="registered model names (same input, classes)")
    add_derived_model_options(ens)
    return ens


def add_weigh_members_command(sub: Subparsers) -> argparse.ArgumentParser:
    weigh = sub.add_parser(
        "weigh-members",
        help="fit an average's member weights on a labelled split and judge it out of fold "
        "(cross-fitted) against a baseline by the shipping rule",
    )
    weigh.add_argument("members", nargs="+", help="registered models (at least two)")
    weigh.add_argument("--baseline", required=True, help="registered model to beat")
    add_judging_options(
        weigh, "face sizes besides the members' largest input (where the weights are fitted)"
    )
    weigh.add_argument("--folds", type=int, default=5, help="cross-fitting folds")
    weigh.add_argument("--seed", type=int, default=2500, help="orders the faces into folds")
    weigh.add_argument(
        "--combiner",
        choices=("weighted", "stacked"),
        default="weighted",
        help="weighted: one weight a member (EM) and a temperature; stacked: a logistic "
        "regression on the members' log-probabilities",
    )
    return weigh


def add_neighbours_command(sub: Subparsers) -> argparse.ArgumentParser:
    near = sub.add_parser(
        "neighbours",
        help="blend a network with the labels of its nearest training faces (its own features) "
        "and judge the blend out of fold against the network alone",
    )
    near.add_argument("network", help="registered model whose probabilities are blended")
    near.add_argument(
        "--features", required=True, help="registered FP32 model whose penultimate layer is read"
    )
    near.add_argument(
        "--bank", default=".data/fer2013/train", help="labelled faces searched (fer-folder)"
    )
    near.add_argument("--k", default="5,10,20,50,100,200", help="candidate neighbour counts")
    add_judging_options(near, "face sizes besides the network's input (where the blend is fitted)")
    near.add_argument("--folds", type=int, default=5, help="cross-fitting folds")
    near.add_argument("--seed", type=int, default=2500, help="orders the faces into folds")
    return near


def add_weights_from_onnx_command(sub: Subparsers) -> argparse.ArgumentParser:
    unfold = sub.add_parser(
        "weights-from-onnx",
        help="registered model -> trainable weights (batch-norms restored) for [model] pretrained",
    )
    unfold.add_argument("--model", required=True, help="registered model, e.g. resnet-fer-v1")
    unfold.add_argument("--models-dir", default=str(models_dir()))
    unfold.add_argument(
        "--data", default=".data/fer2013/train", help="train folder for batch-norm statistics"
    )
    unfold.add_argument("--faces", type=int, default=4096, help="faces for the statistics")
    unfold.add_argument("--out", required=True, help="where to write the .pt state_dict")
    unfold.add_argument(
        "--width",
        type=float,
        help="write the weights of a wider network of the same family computing the same "
        "function (resnet only; e.g. 1.0 for a 0.75 model)",
    )
    unfold.add_argument(
        "--seed", type=int, default=0, help="draws the faces and the widening's channel copies"
    )
    return unfold


def add_bench_command(sub: Subparsers) -> argparse.ArgumentParser:
    bench = sub.add_parser("bench", help="ms per face of a registered model, 1 thread (JSON)")
    bench.add_argument("--model", required=True, help="registered model name")
    bench.add_argument("--models-dir", default=str(models_dir()))
    bench.add_argument("--batch", type=int, default=32)
    bench.add_argument("--repeats", type=int, default=50)
    return bench


def add_model_card_command(sub: Subparsers) -> argparse.ArgumentParser:
    card = sub.add_parser(
        "model-card",
        help="rewrite a registered model's MODEL_CARD.md from its manifest, with the CPU time of "
        "every run it builds on (manifest and model file untouched)",
    )
    card.add_argument("model", help="registered model name")
    card.add_argument("--models-dir", default=str(models_dir()))
    return card


COMMANDS: dict[str, Callable[[Subparsers], argparse.ArgumentParser]] = {
    "train": add_train_command,
    "pack-run": add_pack_run_command,
    "device-tree": add_device_tree_command,
    "unpack-run": add_unpack_run_command,
    "evaluate": add_evaluate_command,
    "compare": add_compare_command,
    "explain": add_explain_command,
    "export": add_export_command,
    "mirror-tta": add_mirror_tta_command,
    "calibrate": add_calibrate_command,
    "ensemble": add_ensemble_command,
    "weigh-members": add_weigh_members_command,
    "neighbours": add_neighbours_command,
    "weights-from-onnx": add_weights_from_onnx_command,
    "bench": add_bench_command,
    "model-card": add_model_card_command,
}


def build_parser(
    description: str | None, handlers: Mapping[str, Handler]
) -> argparse.ArgumentParser:
    """The whole parser; ``handlers`` maps every command name to its handler (a missing one is a
    programming error and raises KeyError at once, not when that command is first used)."""
    parser = argparse.ArgumentParser(prog="python -m training", description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, add_command in COMMANDS.items():
        add_command(sub).set_defaults(handler=handlers[name])
    return parser
