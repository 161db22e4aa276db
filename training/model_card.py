"""Write manifest.json (ModelManifest) and MODEL_CARD.md for an exported model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inference.model_manifest import CANONICAL_CLASSES, ModelManifest
from training.model_lineage import Lineage, lineage_lines, trace_lineage

LICENCE = (
    "Weights: wellbeing project (internal). Trained on FER-2013, which is distributed for "
    "research and non-commercial use only; check that licence before any commercial use."
)


def extra_training_data(tr: dict[str, Any]) -> list[str]:
    """The ``[data] train_extra`` folders a model also trained on (a final fit on train+val),
    its own or, for an ensemble, any member's."""
    own = tr.get("config", {}).get("data", {}).get("train_extra") or []
    members = (tr.get("ensemble") or {}).get("members", [])
    extra = [*own, *(p for m in members for p in m.get("train_extra", []))]
    return list(dict.fromkeys(extra))


NOT_HELD_OUT = "Trained on val too (final fit): its val figures are not held out."


def averaged_epochs(tr: dict[str, Any]) -> str:
    """'epochs 2-22' when the file holds averaged weights (training.weight_averaging), else ''."""
    span = tr.get("averaged_epochs")
    return f"epochs {span[0]}-{span[1]}" if span else ""


def data_lines(tr: dict[str, Any]) -> list[str]:
    """Where the model learned, and whether the val figures below are held out."""
    extra = extra_training_data(tr)
    if not extra:
        kept = "the epoch kept was selected on val\n(PublicTest, 3,589 images) only."
        if averaged_epochs(tr):
            kept = (
                f"it holds the mean of the weights of {averaged_epochs(tr)}, fixed in the config\n"
                "(nothing was selected on val, PublicTest, 3,589 images)."
            )
        elif tr.get("selected_on_val") is False:
            kept = (
                f"it holds epoch {tr.get('checkpoint_epoch')} as the run left it (its resume\n"
                "checkpoint; no epoch was selected on val, PublicTest, 3,589 images)."
            )
        return [
            "Trained on the FER-2013 train split (28,709 48x48 gray web images; Goodfellow et al.",
            f"2013, 'Challenges in Representation Learning'); {kept} The PrivateTest split was "
            "not used.",
        ]
    return [
        "Trained on the FER-2013 train split (28,709 48x48 gray web images; Goodfellow et al.",
        f"2013, 'Challenges in Representation Learning') **and on {', '.join(extra)}**: the",
        "final fit on train+val of a recipe fixed on val, kept at the end of its fixed",
        "schedule (no epoch was selected on val). **The val figures below are not a held-out",
        "measure** (the model has seen those faces): the held-out measure of the recipe is its",
        "train-only twin's card, and the held-back PrivateTest split judges this model.",
    ]


def kept_epoch(tr: dict[str, Any]) -> str:
    """Which epoch the file holds: the best on val, an epoch as the run left it (last.pt), the
    last one of a final fit, or the mean of the weights of several epochs."""
    if averaged_epochs(tr):
        return f"kept the mean of the weights of {averaged_epochs(tr)} (weight averaging)"
    if extra_training_data(tr):
        return f"kept the last epoch ({tr.get('checkpoint_epoch')}; final fit)"
    if tr.get("selected_on_val") is False:
        return f"kept epoch {tr.get('checkpoint_epoch')} (not selected on val)"
    return f"best epoch {tr['best_epoch']}"


def headline(metrics: dict[str, Any]) -> str:
    auc = metrics.get("macro_roc_auc")
    return (
        f"accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}, "
        f"balanced accuracy {metrics['balanced_accuracy']:.4f}, macro ROC AUC "
        f"{auc if auc is not None else float('nan'):.4f} (n={metrics['n']})"
    )


def per_class_table(metrics: dict[str, Any]) -> list[str]:
    rows = ["| class | precision | recall | F1 | ROC AUC | support |", "|---|---|---|---|---|---|"]
    for name in CANONICAL_CLASSES:
        r = metrics["per_class"][name]
        auc = r.get("roc_auc")
        rows.append(
            f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
            f"{auc if auc is not None else float('nan'):.3f} | {r['support']} |"
        )
    return rows


def confusion_table(metrics: dict[str, Any]) -> list[str]:
    header = "| true \\ predicted | " + " | ".join(CANONICAL_CLASSES) + " |"
    rows = [header, "|---" * (len(CANONICAL_CLASSES) + 1) + "|"]
    for name, counts in zip(CANONICAL_CLASSES, metrics["confusion_matrix"], strict=True):
        rows.append(f"| {name} | " + " | ".join(str(c) for c in counts) + " |")
    return rows


def quantization_lines(quant: dict[str, Any] | None) -> list[str]:
    if not quant:
        return ["- INT8 quantization was not run for this export."]
    return [
        f"- Static INT8 (QDQ, per-channel) with onnxruntime.quantization: val accuracy "
        f"{quant['accuracy']:.4f} ({quant['accuracy_change']:+.4f} vs FP32), "
        f"{quant['ms_per_face']:.3f} ms/face ({quant['speedup']:.2f}x the FP32 speed). "
        f"Shipped file: {'INT8' if quant['shipped'] else 'FP32'}."
    ]


def budget_lines(tr: dict[str, Any]) -> list[str]:
    """Why a run under a wall-clock budget is reproducible only approximately, and how."""
    budget = tr["config"].get("train", {}).get("max_minutes", 0) or 0
    if not budget:
        return []
    return [
        f"- The run had a wall-clock budget (`max_minutes = {budget}`): after each epoch the",
        "  one-cycle schedule was re-planned to the epochs that fitted, which depends on the",
        "  machine's speed. To rerun independently of speed, set",
        f"  `epochs = {tr['epochs_run']}` and `max_minutes = 0` (the same recipe, not a",
        "  bit-identical run).",
    ]


def config_lines(tr: dict[str, Any]) -> list[str]:
    """The full config as run (command-line overrides included), as a JSON block."""
    return [
        "- Config as run (command-line overrides included; the same as manifest.json",
        "  training.config):",
        "",
        "```json",
        json.dumps(tr["config"], indent=2, sort_keys=True),
        "```",
    ]


def notes_lines(tr: dict[str, Any]) -> list[str]:
    """Free-text notes given at export (``--note``), e.g. what a longer run should do next."""
    notes = tr.get("notes") or []
    return ["## Notes", "", *[f"- {note}" for note in notes], ""] if notes else []


def source_only(tr: dict[str, Any]) -> str:
    """Marks a figure measured on the source model of a mirror model (one pass per face) or on
    the first member of an ensemble."""
    if tr.get("ensemble"):
        return f" (first member, {tr['ensemble']['members'][0]['name']})"
    return " (source model, one pass per face)" if tr.get("mirror_tta") else ""


def runtime_lines(ev: dict[str, Any], tr: dict[str, Any]) -> list[str]:
    """The headline as the engine runs the model, and where a mirror model came from."""
    mirror = tr.get("mirror_tta")
    if tr.get("ensemble"):
        return ensemble_lines(ev, tr["ensemble"])
    if not mirror:
        return [f"- Run-time behaviour (ONNX, no test-time augmentation): {headline(ev)}"]
    int8 = mirror.get("int8")
    weights, kept, base = "", "same weights", "source"
    if int8:
        weights = (
            f"INT8 ({int8['format']}, calibrated on {int8['calibration_faces']} train faces, "
            f"seed {int8['calibration_seed']}), "
        )
        kept, base = "its weights quantized", "quantized source"
    return [
        f"- Run-time behaviour (ONNX, {weights}mirror test-time augmentation inside the graph: "
        f"each face and its mirror image, probabilities averaged, two passes per face): "
        f"{headline(ev)}",
        f"- Derived from `{mirror['source']}` ({kept}; accuracy "
        f"{mirror['source_accuracy']:.4f} in FP32 without mirroring) by `{mirror['command']}`; "
        f"max abs difference to the mean of the {base} on 512 val faces and their mirror "
        f"images {mirror['parity_max_abs_diff']:.2e}",
    ]


def face_size_lines(ev: dict[str, Any]) -> list[str]:
    """Accuracy on faces shrunk to 48/32/24/16 px and scaled back up, when measured."""
    by_px = ev.get("by_face_px")
    if not by_px:
        return []
    ordered = sorted(by_px.items(), key=lambda item: -int(item[0]))  # JSON sorts keys as text
    figures = ", ".join(f"{px} px {m['accuracy']:.4f}" for px, m in ordered)
    return [
        f"- Small faces (each val face shrunk to N px with INTER_AREA and scaled back up by the "
        f"engine's preprocessing; accuracy): {figures}"
    ]


def cpu_lines(tr: dict[str, Any]) -> list[str]:
    cpu = tr.get("cpu_seconds")
    return [f"- CPU time of training: {cpu / 3600:.2f} CPU hours"] if cpu else []


def calibration_lines(ev: dict[str, Any], tr: dict[str, Any]) -> list[str]:
    """The temperature-scaling section (training.temperature_scaling), when the model has one."""
    cal = ev.get("calibration")
    if not cal:
        return []
    scope = [
        "- Fitted and measured on the same val split (no other labelled data is at hand); a",
        "  probability of 0.7 means about 70% on FER-2013-like faces, not on classroom cameras.",
    ]
    if extra_training_data(tr):
        scope = [
            "- The temperature is the train-only twin's, applied as it is; the figures above are",
            "  on val faces this model trained on, so they are not a measure of its calibration",
            "  (the twin's card holds the held-out one).",
        ]
    rows = [
        f"| {r['low']:.2f}-{r['high']:.2f} | {r['n']} | {r['confidence']:.3f} | "
        f"{r['accuracy']:.3f} | {a['confidence']:.3f} | {a['accuracy']:.3f} |"
        for r, a in zip(cal["bins_before"], cal["bins_after"], strict=True)
        if r["n"] and a["n"]
    ]
    return [
        "## Calibration",
        "",
        f"- Temperature {cal['temperature']:.4f} inside the graph (logits / T before the "
        f"Softmax), fitted on {cal['fitted_on']}; {cal['predictions_changed']} val "
        f"predictions changed (accuracy {cal['accuracy_before']:.4f} -> "
        f"{cal['accuracy_after']:.4f}; a mirror model averages the two views after the "
        "Softmax, so T reweighs them).",
        f"- Expected calibration error ({cal['bins']} equal-width bins of the top-class "
        f"probability): {cal['ece_before']:.4f} before, {cal['ece_after']:.4f} after; "
        f"negative log-likelihood {cal['nll_before']:.4f} before, {cal['nll_after']:.4f} after.",
        f"- Reliability diagram before and after: `{cal['diagram']}` (next to this card).",
        *scope,
        "",
        "Bins with faces both before and after (before: confidence, accuracy | after: same; a",
        "face may change bin):",
        "",
        "| confidence bin | faces before | conf. before | acc. before | conf. after | acc. after |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def ensemble_lines(ev: dict[str, Any], ensemble: dict[str, Any]) -> list[str]:
    """The headline of an ensemble and its members (training.ensemble_graph)."""
    members = ", ".join(
        f"`{m['name']}` ({m['accuracy']:.4f})" if m.get("accuracy") is not None else m["name"]
        for m in ensemble["members"]
    )
    return [
        f"- Run-time behaviour (ONNX, ensemble inside one graph: mean of the members' "
        f"probabilities): {headline(ev)}",
        f"- Members (val accuracy alone): {members}; built by `{ensemble['command']}`; max abs "
        f"difference to the mean of the members on 512 val faces "
        f"{ensemble['parity_max_abs_diff']:.2e}. Architecture, training and reproduction below "
        "describe the first member.",
        *resolution_lines(ensemble["members"]),
    ]


def resolution_lines(members: list[dict[str, Any]]) -> list[str]:
    """For a two-resolution ensemble, which member reads the face at which size."""
    sizes = [m.get("input_px") for m in members]
    if None in sizes or len(set(sizes)) < 2:
        return []
    each = ", ".join(f"`{m['name']}` {m['input_px']} px" for m in members)
    return [
        f"- Input sizes: {each}; the graph reads the face at the largest and shrinks it for the "
        "others inside the graph (area resampling, as cv2.INTER_AREA; training.graph_resizing)."
    ]


def render_model_card(manifest: ModelManifest, lineage: Lineage | None = None) -> str:
    """Markdown model card: data, metrics, reproduction, the runs it builds on (``lineage``,
    when given), intended use and limitations."""
    ev, tr = manifest.evaluation, manifest.training
    pre = manifest.preprocessing
    weighting = tr["config"].get("train", {}).get("class_weighting", "sqrt-inverse")
    lines = [
        f"# Model card: {manifest.name}",
        "",
        f"- Version: {manifest.version}; file `{manifest.file}` sha256 `{manifest.sha256}`",
        f"- Architecture: {tr['model']['family']} (width {tr['model']['width']}), "
        f"{tr['macs'] / 1e6:.1f} M multiply-accumulates per face, "
        f"{tr['params'] / 1e6:.2f} M parameters",
        f"- Input: {pre.color} {pre.size}x{pre.size} {pre.layout}, x*{pre.scale:.6g} then "
        f"(x-{list(pre.mean)})/{list(pre.std)} "
        "(inference.emotion_preprocessing.preprocess_faces)",
        f"- Output: probabilities over {', '.join(manifest.classes)}",
        f"- Licence: {manifest.licence}",
        "",
        "## Data",
        "",
        *data_lines(tr),
        "FER-2013 is distributed for research and non-commercial use. Class balance is skewed",
        f"(disgust is 1.5% of train); the loss used {weighting} class weights.",
        "",
        "## Evaluation (FER-2013 val, PublicTest"
        + ("; seen in training, not held out)" if extra_training_data(tr) else ")"),
        "",
        *runtime_lines(ev, tr),
        f"- With test-time augmentation (mirror + two shifts, PyTorch): {headline(ev['tta_on'])}",
        *face_size_lines(ev),
        f"- ONNX vs PyTorch parity{source_only(tr)}: max abs difference "
        f"{tr['parity_max_abs_diff']:.2e} over {tr['parity_images']} real val images",
        f"- Latency: {ev['latency']['ms_per_face']:.3f} ms per face, onnxruntime, 1 thread, "
        f"batch {ev['latency']['batch']} ({tr.get('latency_cpu', 'CPU')})",
        *[line + source_only(tr) for line in quantization_lines(tr.get("quantization"))],
        "",
        *per_class_table(ev),
        "",
        "Confusion matrix (counts, rows = true class):",
        "",
        *confusion_table(ev),
        "",
        *calibration_lines(ev, tr),
        "## Reproduce",
        "",
        f"- Command: `{tr['command']}` (seed {tr['seed']}, torch {tr['torch']}, {tr['device']})",
        f"- Export: `{tr['export_command']}`",
        f"- {tr['epochs_run']} epochs ({tr['stop_reason']}), {kept_epoch(tr)}, "
        f"{tr['train_seconds'] / 60:.1f} min training, {tr['mean_epoch_seconds']:.0f} s per epoch",
        *cpu_lines(tr),
        *budget_lines(tr),
        *config_lines(tr),
        "",
        *notes_lines(tr),
        *(lineage_lines(lineage) if lineage else []),
        "## Intended use and limitations",
        "",
        "- Estimates which facial *expression* a face shows. Expressions are not feelings: a",
        "  smile or a frown says little about a person's inner state. Use only aggregated over",
        "  time, for consented participants, as a prompt for a human counselor, never as a",
        "  verdict.",
        "- Trained on adult web faces (posed and spontaneous, mostly frontal, skewed towards",
        "  lighter skin tones). Not validated on children or adolescents, nor on classroom",
        "  cameras, masks, strong head pose or poor lighting; expect lower accuracy there.",
        "- Weakest classes on val: see the per-class table (fear and sad are often confused",
        "  with each other and with neutral; disgust is rare).",
        "- Not for use on anyone who has not consented, and not for any automated decision.",
    ]
    return "\n".join(lines) + "\n"


def write_model_files(manifest: ModelManifest, folder: Path) -> None:
    """Write manifest.json and MODEL_CARD.md into ``folder`` (the model file is already there);
    the card's lineage is traced through the models registered beside ``folder``."""
    (folder / "manifest.json").write_text(manifest.to_json())
    write_model_card(folder, manifest)


def write_model_card(folder: Path, manifest: ModelManifest | None = None) -> Lineage:
    """(Re)write ``folder``'s MODEL_CARD.md from its manifest (read from the folder unless
    given) and the models registered beside it; touches neither the manifest nor the model
    file. Returns the lineage it traced; ManifestError when ``folder`` holds no registered
    model (raised by the tracing, before anything is read or written)."""
    lineage = trace_lineage(folder.name, folder.parent)
    manifest = manifest or ModelManifest.load(folder / "manifest.json")
    (folder / "MODEL_CARD.md").write_text(render_model_card(manifest, lineage))
    return lineage
