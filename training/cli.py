"""Command-line interface: ``python -m training {train,pack-run,evaluate,compare,export,...}``.

Heavy imports (torch) happen inside the commands so that ``--help`` is instant. Every
TrainingError (and a ManifestError from the shared registry) becomes a one-line message and
exit code 2; results are printed as JSON on the last line for scripts.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from inference.model_manifest import ManifestError, Preprocessing, models_dir
from training.errors import TrainingError

DEFAULT_VAL = ".data/fer2013/val"


def print_json(obj: Any) -> None:
    print(json.dumps(obj, default=str))


def command_train(args: argparse.Namespace) -> int:
    from training.training_config import load_config
    from training.training_run import train_model

    config = override_train(load_config(Path(args.config)), args.threads, args.max_minutes)
    allowed = args.allow_changed or []
    print_json(train_model(config, Path(args.config), args.resume, allowed))
    return 0


def command_pack_run(args: argparse.Namespace) -> int:
    from training.run_carrying import pack_run
    from training.training_config import load_config

    report = pack_run(load_config(Path(args.config)), Path(args.out) if args.out else None)
    print(f"packed epoch {report['epoch']}, step {report['step']} into {report['path']}")
    print_json(report)
    return 0


def command_unpack_run(args: argparse.Namespace) -> int:
    from training.run_carrying import unpack_run
    from training.training_config import load_config

    report = unpack_run(load_config(Path(args.config)), Path(args.source) if args.source else None)
    print_json(report)
    return 0


def command_device_tree(args: argparse.Namespace) -> int:
    from training import device_travel as travel

    repo, carry = travel.repo_root(Path.cwd()), [Path(p) for p in args.carry]
    limit = travel.DEVICE_TREE_LIMIT_BYTES
    if args.action == "lighten":
        light = travel.travel_bytes(repo, carry, travel.LEFT_BEHIND)
        if light > limit:
            raise TrainingError(
                f"even without {', '.join(travel.LEFT_BEHIND)}, {light / 2**20:.1f} MiB would "
                f"travel (limit {limit / 2**20:.0f} MiB); nothing changed"
            )
        travel.lighten_tree(repo)
    elif args.action == "restore":
        print(f"restored: {', '.join(travel.restore_tree(repo))}")
    size = travel.travel_bytes(repo, carry)
    print_json({"travel_bytes": size, "limit_bytes": limit, "fits": size <= limit})
    return 0


def override_train(config: Any, threads: int | None, max_minutes: float | None) -> Any:
    """Apply --threads / --max-minutes (machine-dependent settings) to a loaded config.

    The overrides are written into ``config.raw`` too, so checkpoints and manifests record
    the settings the run actually used.
    """
    from dataclasses import replace

    changes = {
        k: v for k, v in (("threads", threads), ("max_minutes", max_minutes)) if v is not None
    }
    if not changes:
        return config
    raw = {**config.raw, "train": {**config.raw.get("train", {}), **changes}}
    return replace(config, train=replace(config.train, **changes), raw=raw)


def load_eval_data(args: argparse.Namespace, spec: Preprocessing) -> Any:
    from training.dataset_loaders import load_dataset

    return load_dataset(args.format, Path(args.data), args.split, spec)


def command_evaluate(args: argparse.Namespace) -> int:
    from training.model_evaluation import evaluate_model, summarise
    from training.model_predictors import load_any_model

    loaded = load_any_model(args.model, Path(args.models_dir), threads=args.threads)
    data = load_eval_data(args, loaded.preprocessing)
    out = Path(args.out) if args.out else None
    report = evaluate_model(loaded.predict, data.inputs, data.labels, args.tta, out, loaded.name)
    for mode, metrics in report.items():
        print(f"== {loaded.name} on {data.source}, {mode.replace('_', ' ')} ==")
        print(summarise(metrics))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    result = {
        mode: {k: m[k] for k in ("accuracy", "macro_f1", "balanced_accuracy", "macro_roc_auc")}
        for mode, m in report.items()
    }
    if args.face_sizes:
        result["by_face_px"] = evaluate_by_face_size(args, loaded, data, out)
    print_json(result)
    return 0


def evaluate_by_face_size(args: argparse.Namespace, loaded: Any, data: Any, out: Any) -> Any:
    """Accuracy with every face shrunk to each of ``--face-sizes`` pixels (TTA off)."""
    from training.face_size_evaluation import describe_face_sizes, evaluate_face_sizes

    sizes = parse_face_sizes(args.face_sizes)
    spec = loaded.preprocessing
    report = evaluate_face_sizes(loaded.predict, data.inputs, data.labels, spec, sizes)
    print(f"== {loaded.name}, {describe_face_sizes(report)} ==")
    if out is not None:
        (out / "by_face_px.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def command_compare(args: argparse.Namespace) -> int:
    from training.model_comparison import compare_models, describe_comparison, shipping_verdict

    a, b, labels = load_compared_pair(args)
    report = compare_models(a, b, labels, parse_face_sizes(args.face_sizes))
    verdict = shipping_verdict(report)
    print(describe_comparison(report, verdict))
    if args.out:
        Path(args.out).write_text(json.dumps({**report, "verdict": verdict}, indent=2) + "\n")
    print_json({**report, "verdict": verdict})
    return 0


def load_compared_pair(args: argparse.Namespace) -> Any:
    """(a, b, labels): both models with the split preprocessed for each (once when equal)."""
    from training.model_comparison import ComparedModel
    from training.model_predictors import load_any_model

    models = [load_any_model(m, Path(args.models_dir), threads=args.threads) for m in args.models]
    data = load_eval_data(args, models[0].preprocessing)
    data_b = data
    if models[1].preprocessing != models[0].preprocessing:
        data_b = load_eval_data(args, models[1].preprocessing)
    if data_b.labels.tolist() != data.labels.tolist():
        raise TrainingError(
            "the split gave the two models different labels; compare on a fixed split"
        )
    a, b = (
        ComparedModel(m.name, m.predict, d.inputs, m.preprocessing)
        for m, d in zip(models, (data, data_b), strict=True)
    )
    return a, b, data.labels


def parse_counts(text: str, option: str, example: str, what: str) -> list[int]:
    """ "48,32" -> [48, 32]; raises TrainingError, naming ``option``, unless all are whole
    numbers >= 1 (``what`` they are, e.g. "pixel sizes", shown with ``example``)."""
    try:
        counts = [int(n) for n in text.split(",")]
    except ValueError as exc:
        raise TrainingError(f"{option} expects {what} like {example}: {exc}") from exc
    if min(counts) < 1:
        raise TrainingError(f"{option} expects {what} of at least 1, got {text!r}")
    return counts


def parse_face_sizes(text: str) -> list[int]:
    """ "48,32,24,16" -> [48, 32, 24, 16]; raises TrainingError unless all are whole pixels >= 1."""
    return parse_counts(text, "--face-sizes", "48,32,24,16", "pixel sizes")


def parse_neighbour_counts(text: str) -> list[int]:
    """ "5,10,20" -> [5, 10, 20]; raises TrainingError unless all are whole counts >= 1."""
    return parse_counts(text, "--k", "5,10,20", "neighbour counts")


def command_explain(args: argparse.Namespace) -> int:
    from training.explanation_maps import explain_image
    from training.model_predictors import load_any_model

    loaded = load_any_model(args.model, Path(args.models_dir), rebuild=True)
    print_json(explain_image(loaded, Path(args.image), Path(args.out)))
    return 0


def command_export(args: argparse.Namespace) -> int:
    from training.export_pipeline import export_checkpoint

    command = "python -m training " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = export_checkpoint(
        Path(args.checkpoint),
        args.name,
        Path(args.models_dir),
        quantize=args.quantize or args.ship_int8,
        ship_int8=args.ship_int8,
        export_command=command,
        notes=args.note or [],
    )
    ev = report["evaluation"]
    print(f"exported to {report['model_dir']}: val accuracy {ev['accuracy']:.4f}")
    compact = {
        "model_dir": report["model_dir"],
        "parity_max_abs_diff": report["parity"],
        "accuracy": ev["accuracy"],
        "macro_f1": ev["macro_f1"],
        "balanced_accuracy": ev["balanced_accuracy"],
        "macro_roc_auc": ev["macro_roc_auc"],
        "tta_on_accuracy": ev["tta_on"]["accuracy"],
        "ms_per_face": ev["latency"]["ms_per_face"],
        "quantization": report["quantization"],
    }
    print_json(compact)
    return 0


def print_derived_model(report: dict[str, Any], **extra: Any) -> None:
    """One line for people, then the JSON summary of a model derived from registered ones."""
    ev = report["evaluation"]
    print(f"wrote {report['model_dir']}: val accuracy {ev['accuracy']:.4f}")
    summary = {
        "model_dir": report["model_dir"],
        "parity_max_abs_diff": report["parity"],
        "accuracy": ev["accuracy"],
        "macro_f1": ev["macro_f1"],
        "ms_per_face": ev["latency"]["ms_per_face"],
    }
    print_json(summary | extra)


def command_mirror_tta(args: argparse.Namespace) -> int:
    from training.mirror_tta import derive_mirror_tta_model

    command = "python -m training " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = derive_mirror_tta_model(
        args.source,
        args.name,
        Path(args.models_dir),
        Path(args.data),
        command,
        Path(args.int8_train) if args.int8_train else None,
    )
    ev = report["evaluation"]
    print_derived_model(report, balanced_accuracy=ev["balanced_accuracy"])
    return 0


def command_calibrate(args: argparse.Namespace) -> int:
    from training.temperature_scaling import calibrate_registered_model

    command = "python -m training " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = calibrate_registered_model(
        args.source,
        args.name,
        Path(args.models_dir),
        Path(args.data),
        command,
        temperature_from=args.temperature_from,
    )
    print(
        f"wrote {report['model_dir']}: T = {report['temperature']:.4f}, ECE "
        f"{report['ece_before']:.4f} -> {report['ece_after']:.4f}"
    )
    print_json(report)
    return 0


def command_ensemble(args: argparse.Namespace) -> int:
    from training.ensemble_graph import build_ensemble

    command = "python -m training " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = build_ensemble(
        args.members, args.name, Path(args.models_dir), Path(args.data), command
    )
    ev = report["evaluation"]
    print_derived_model(
        report, by_face_px={px: m["accuracy"] for px, m in ev["by_face_px"].items()}
    )
    return 0


def command_weigh_members(args: argparse.Namespace) -> int:
    from training.member_weights import weigh_members
    from training.model_comparison import describe_comparison
    from training.model_predictors import load_any_model

    def load(name: str) -> Any:
        return load_any_model(name, Path(args.models_dir), threads=args.threads)

    report = weigh_members(
        [load(m) for m in args.members],
        load(args.baseline),
        lambda spec: load_eval_data(args, spec),
        parse_face_sizes(args.face_sizes),
        args.folds,
        args.seed,
        args.combiner,
    )
    print(describe_comparison(report["comparison"], report["verdict"]))
    print(f"fitted on the whole split: {json.dumps(report['whole_split_fit'])}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print_json(report)
    return 0


def command_neighbours(args: argparse.Namespace) -> int:
    from inference.model_manifest import resolve_model
    from training.dataset_loaders import load_dataset
    from training.feature_neighbours import judge_neighbours
    from training.model_comparison import describe_comparison
    from training.model_predictors import load_any_model

    network = load_any_model(args.network, Path(args.models_dir), threads=args.threads)
    manifest, path = resolve_model(args.features, Path(args.models_dir))
    report = judge_neighbours(
        network,
        path,
        manifest.preprocessing,
        lambda spec: load_dataset("fer-folder", Path(args.bank), "train", spec),
        lambda spec: load_eval_data(args, spec),
        parse_face_sizes(args.face_sizes),
        args.folds,
        args.seed,
        parse_neighbour_counts(args.k),
        args.threads,
    )
    print(describe_comparison(report["comparison"], report["verdict"]))
    print(f"fitted on the whole split: {json.dumps(report['whole_split_fit'])}")
    print(f"neighbours alone: {json.dumps(report['neighbours_alone'])}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print_json(report)
    return 0


def command_bench(args: argparse.Namespace) -> int:
    from inference.model_manifest import resolve_model
    from training.onnx_export import measure_latency

    manifest, path = resolve_model(args.model, Path(args.models_dir))
    pre = manifest.preprocessing
    result = measure_latency(path, (pre.channels, pre.size, pre.size), args.batch, args.repeats)
    print_json({"model": args.model, **result})
    return 0


def command_weights_from_onnx(args: argparse.Namespace) -> int:
    from training.batchnorm_restoration import weights_from_onnx

    result = weights_from_onnx(
        args.model,
        Path(args.models_dir),
        Path(args.data),
        Path(args.out),
        args.faces,
        args.seed,
        args.width,
    )
    print_json(result)
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
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
    train.set_defaults(handler=command_train)

    pack = sub.add_parser(
        "pack-run",
        help="the run's newest checkpoint and logs -> training/carried-runs/<run>.pt, to commit "
        "so that a later session on another machine can continue it",
    )
    pack.add_argument("--config", required=True, help="the run's config")
    pack.add_argument("--out", help="file to write (default training/carried-runs/<run>.pt)")
    pack.set_defaults(handler=command_pack_run)
    tree = sub.add_parser(
        "device-tree",
        help="what a GPU call would send (JSON); lighten: leave the committed models out of it; "
        "restore: put them back (docs/training.md, A GPU run)",
    )
    tree.add_argument("action", choices=["size", "lighten", "restore"])
    tree.add_argument(
        "--carry", nargs="*", default=[], help="paths the call will carry (from the top folder)"
    )
    tree.set_defaults(handler=command_device_tree)
    unpack = sub.add_parser(
        "unpack-run", help="a packed run -> its run folder, ready for train --resume"
    )
    unpack.add_argument("--config", required=True, help="the run's config")
    unpack.add_argument(
        "--from", dest="source", help="packed file (default training/carried-runs/<run>.pt)"
    )
    unpack.set_defaults(handler=command_unpack_run)

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
    ev.set_defaults(handler=command_evaluate)

    cmp = sub.add_parser(
        "compare",
        help="two models on the same faces: accuracy by face size, exact McNemar, ECE, "
        "agreement, and the shipping rule's verdict (b the candidate, a the baseline)",
    )
    cmp.add_argument("models", nargs=2, metavar="MODEL", help="a (baseline) then b (candidate)")
    add_judging_options(cmp, "face sizes; ECE and the rule's gain are taken at the largest")
    cmp.set_defaults(handler=command_compare)

    ex = sub.add_parser("explain", help="Grad-CAM and occlusion maps for one face image")
    add_model_source(ex)
    ex.add_argument("image", help="a face crop image")
    ex.add_argument("--out", required=True, help="PNG to write")
    ex.set_defaults(handler=command_explain)

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
    exp.set_defaults(handler=command_export)

    mirror = sub.add_parser(
        "mirror-tta", help="registered model -> new model that averages each face and its mirror"
    )
    mirror.add_argument("source", help="registered model name, e.g. resnet-fer-v1")
    mirror.add_argument("--name", required=True, help="new model folder name under --models-dir")
    mirror.add_argument("--models-dir", default=str(models_dir()))
    mirror.add_argument("--data", default=DEFAULT_VAL, help=f"val folder (default {DEFAULT_VAL})")
    mirror.add_argument(
        "--int8-train",
        metavar="DIR",
        help="quantize the source to static INT8 first, calibrated on 512 faces of DIR "
        "(e.g. .data/fer2013/train)",
    )
    mirror.set_defaults(handler=command_mirror_tta)

    cal = sub.add_parser(
        "calibrate",
        help="registered model -> new model with temperature scaling (fitted on val) in the graph",
    )
    cal.add_argument("source", help="registered model name, e.g. resnet-fer-v1-mirror-int8")
    cal.add_argument("--name", required=True, help="new model folder name under --models-dir")
    cal.add_argument("--models-dir", default=str(models_dir()))
    cal.add_argument("--data", default=DEFAULT_VAL, help=f"val folder (default {DEFAULT_VAL})")
    cal.add_argument(
        "--temperature-from",
        metavar="MODEL",
        help="apply the temperature of this calibrated model instead of fitting one (required "
        "for a final fit on train+val: pass its train-only twin)",
    )
    cal.set_defaults(handler=command_calibrate)

    ens = sub.add_parser(
        "ensemble", help="registered models -> one model averaging their probabilities"
    )
    ens.add_argument("members", nargs="+", help="registered model names (same input, classes)")
    ens.add_argument("--name", required=True, help="new model folder name under --models-dir")
    ens.add_argument("--models-dir", default=str(models_dir()))
    ens.add_argument("--data", default=DEFAULT_VAL, help=f"val folder (default {DEFAULT_VAL})")
    ens.set_defaults(handler=command_ensemble)

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
    weigh.set_defaults(handler=command_weigh_members)

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
    near.set_defaults(handler=command_neighbours)

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
    unfold.set_defaults(handler=command_weights_from_onnx)

    bench = sub.add_parser("bench", help="ms per face of a registered model, 1 thread (JSON)")
    bench.add_argument("--model", required=True, help="registered model name")
    bench.add_argument("--models-dir", default=str(models_dir()))
    bench.add_argument("--batch", type=int, default=32)
    bench.add_argument("--repeats", type=int, default=50)
    bench.set_defaults(handler=command_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (TrainingError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
