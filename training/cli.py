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

from inference.model_manifest import ManifestError, Preprocessing
from training import cli_parser
from training.cli_parser import Handler
from training.errors import TrainingError


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


def command_model_card(args: argparse.Namespace) -> int:
    from training.model_card import write_model_card

    folder = Path(args.models_dir) / args.model
    lineage = write_model_card(folder)
    print(f"wrote {folder / 'MODEL_CARD.md'}: {lineage.cpu_hours:.2f} CPU hours of lineage")
    print_json(lineage.to_dict())
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


HANDLERS: dict[str, Handler] = {
    "train": command_train,
    "pack-run": command_pack_run,
    "device-tree": command_device_tree,
    "unpack-run": command_unpack_run,
    "evaluate": command_evaluate,
    "compare": command_compare,
    "explain": command_explain,
    "export": command_export,
    "mirror-tta": command_mirror_tta,
    "calibrate": command_calibrate,
    "ensemble": command_ensemble,
    "weigh-members": command_weigh_members,
    "neighbours": command_neighbours,
    "weights-from-onnx": command_weights_from_onnx,
    "bench": command_bench,
    "model-card": command_model_card,
}


def build_parser() -> argparse.ArgumentParser:
    return cli_parser.build_parser(__doc__, HANDLERS)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (TrainingError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
