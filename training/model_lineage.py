"""The training runs a registered model builds on, traced through the registered models'
manifests, and the CPU time they took: a model card's answer to "what did this model cost?".

A model distilled along a chain of links cost far more than its own last fit. Its parents are
read from its manifest's ``training`` record, never guessed:

- its start: ``[model] pretrained`` names the file ``python -m training weights-from-onnx``
  wrote for a registered model, ``<folder>/<model>-trainable.pt`` by this project's convention
  (docs/training.md); a file that follows no convention is reported as not traced;
- its teacher: ``[distillation] teacher``, a registered model;
- an ensemble's members (``training.ensemble.members``); the ensemble itself is no run.

One run gives several registered models (the FP32 export, its INT8 mirror form, the calibrated
form): they share one ``training`` record and count once. Reads files only; writes nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inference.model_manifest import ManifestError, ModelManifest

TRAINABLE_SUFFIX = "-trainable"


@dataclass(frozen=True)
class TracedRun:
    """One training run, read from ``model``'s manifest and reached as ``via``."""

    model: str
    via: str
    cpu_seconds: float | None
    train_seconds: float | None


@dataclass(frozen=True)
class Lineage:
    """The runs a model builds on (its own first) and what could not be traced, in words."""

    model: str
    runs: tuple[TracedRun, ...]
    untraced: tuple[str, ...]

    @property
    def cpu_hours(self) -> float:
        """CPU hours of the runs that recorded them (see ``runs_without_cpu`` for the rest)."""
        return sum(run.cpu_seconds or 0.0 for run in self.runs) / 3600

    @property
    def runs_without_cpu(self) -> tuple[TracedRun, ...]:
        return tuple(run for run in self.runs if run.cpu_seconds is None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "cpu_hours": round(self.cpu_hours, 3),
            "runs": [asdict(run) for run in self.runs],
            "runs_without_cpu": [run.model for run in self.runs_without_cpu],
            "untraced": list(self.untraced),
        }


def run_identity(training: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two manifests' ``training`` records one run: the derived forms of an export
    copy the record whole, and no two runs share a command, seed and measured duration."""
    return (training.get("command"), training.get("seed"), training.get("train_seconds"))


def start_of(training: dict[str, Any]) -> str | None:
    """The ``[model] pretrained`` file of a run, or None for a run from random weights."""
    config_model = training.get("config", {}).get("model", {})
    pretrained = config_model.get("pretrained") or training.get("model", {}).get("pretrained")
    return str(pretrained) if pretrained else None


def parents(
    model: str, training: dict[str, Any], models_dir: Path
) -> tuple[list[tuple[str, str]], list[str]]:
    """(model name, how it is reached) of the run's start and teacher, and what is not traced."""
    found: list[tuple[str, str]] = []
    untraced: list[str] = []
    start = start_of(training)
    if start is not None:
        stem = Path(start).stem
        name = stem.removesuffix(TRAINABLE_SUFFIX)
        if stem.endswith(TRAINABLE_SUFFIX) and is_registered(name, models_dir):
            found.append((name, f"start of {model}"))
        else:
            untraced.append(f"start of {model}: {start} (no registered model of that name)")
    teacher = training.get("config", {}).get("distillation", {}).get("teacher")
    if teacher:
        found.append((str(teacher), f"teacher of {model}"))
    return found, untraced


def is_registered(name: str, models_dir: Path) -> bool:
    return (models_dir / name / "manifest.json").is_file()


def trace_lineage(name: str, models_dir: Path) -> Lineage:
    """Every run ``name`` builds on, breadth first from its own, each counted once.

    Raises ManifestError when ``name`` itself is not registered; a missing parent is reported in
    ``untraced`` instead, because a teacher may have been built for a run and never committed.
    """
    if not is_registered(name, models_dir):
        raise ManifestError(f"no registered model {name!r} in {models_dir}")
    runs: dict[tuple[Any, ...], TracedRun] = {}
    untraced: list[str] = []
    queue, seen = deque([(name, "this model's own fit")]), set()
    while queue:
        model, via = queue.popleft()
        if model in seen:
            continue
        seen.add(model)
        if not is_registered(model, models_dir):
            untraced.append(f"{via}: {model} (not registered here)")
            continue
        training = ModelManifest.load(models_dir / model / "manifest.json").training
        members = training.get("ensemble", {}).get("members")
        if members:
            queue.extend((m["name"], f"member of {model}") for m in members)
            continue
        run = TracedRun(model, via, training.get("cpu_seconds"), training.get("train_seconds"))
        runs.setdefault(run_identity(training), run)
        found, missing = parents(model, training, models_dir)
        queue.extend(found)
        untraced.extend(missing)
    return Lineage(name, tuple(runs.values()), tuple(untraced))


def lineage_lines(lineage: Lineage) -> list[str]:
    """The model card's "Lineage" section: the total, then one row a run."""
    without = lineage.runs_without_cpu
    wall = sum(run.train_seconds or 0.0 for run in without) / 3600
    lines = [
        "## Lineage: the runs this model builds on",
        "",
        f"- CPU time of this model and every run it builds on (its starts and its teachers' "
        f"members, traced through the registered models' manifests): "
        f"**{lineage.cpu_hours:.2f} CPU hours** over {len(lineage.runs) - len(without)} runs; "
        "runs measured and not built on (rejected candidates, probes) are not counted",
    ]
    if without:
        names = ", ".join(run.model for run in without)
        lines.append(
            f"- Runs that recorded no CPU time (not in the total): {names} ({wall:.2f} h wall)"
        )
    lines += [f"- Not traced (not in the total): {item}" for item in lineage.untraced]
    lines += ["", "| run (registered model read) | reached as | CPU hours |", "|---|---|---|"]
    for run in lineage.runs:
        cpu = f"{run.cpu_seconds / 3600:.2f}" if run.cpu_seconds is not None else "not recorded"
        lines.append(f"| {run.model} | {run.via} | {cpu} |")
    return [*lines, ""]
