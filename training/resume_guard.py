"""What a resumed run must share with its checkpoint: the recipe (config) and the data.

``--resume`` continues a run exactly only when every setting that shapes the result and every
training/validation image are those of the checkpoint. Settings that depend on the machine
(``MACHINE_KEYS``) may change; any other difference is refused with the differing keys named,
unless the user allows a key explicitly (``--allow-changed train.epochs`` to lengthen a run).
The data check is cheap: a digest of every file's relative path and size (of the file's bytes
for a single-file dataset such as fer2013.csv) plus the per-class counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from inference.model_manifest import CANONICAL_CLASSES
from training.errors import TrainingError

# Settings that do not change what a run computes (or only where it is kept and how fast).
MACHINE_KEYS = frozenset(
    {"run.output_dir", "run.checkpoint_minutes", "train.threads", "train.max_minutes"}
)
MISSING = "<unset>"


class ResumeMismatch(TrainingError):
    """The config or the data of a resumed run differ from those of its checkpoint."""


def flatten_config(raw: dict[str, Any]) -> dict[str, Any]:
    """{"section.key": value} of a parsed TOML config (one level of tables)."""
    flat: dict[str, Any] = {}
    for section, table in raw.items():
        if isinstance(table, dict):
            flat |= {f"{section}.{key}": value for key, value in table.items()}
        else:
            flat[section] = table
    return flat


def diff_configs(
    saved: dict[str, Any], current: dict[str, Any], allowed: Iterable[str] = ()
) -> list[str]:
    """'key: saved -> current' for every setting that differs, machine and allowed keys aside.

    A key missing on one side counts as different (a default may have changed meanwhile).
    """
    old, new = flatten_config(saved), flatten_config(current)
    ignore = MACHINE_KEYS | set(allowed)
    keys = sorted((set(old) | set(new)) - ignore)
    return [
        f"{k}: {old.get(k, MISSING)!r} -> {new.get(k, MISSING)!r}"
        for k in keys
        if old.get(k, MISSING) != new.get(k, MISSING)
    ]


def fingerprint_files(path: Path) -> dict[str, Any]:
    """{"files": n, "digest": sha256} of a split folder (paths and sizes) or a single file."""
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return {"files": 1, "digest": digest.hexdigest()}
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
    for file in files:
        digest.update(f"{file.relative_to(path).as_posix()}\t{file.stat().st_size}\n".encode())
    return {"files": len(files), "digest": digest.hexdigest()}


def fingerprint_split(paths: list[Path], labels: np.ndarray) -> dict[str, Any]:
    """Files digest of the split's parts plus the class counts of the loaded (possibly limited)
    split. One part: that part's digest; several: the sha256 of their digests in order.
    """
    counts = np.bincount(labels, minlength=len(CANONICAL_CLASSES))
    parts = [fingerprint_files(path) for path in paths]
    digest = parts[0]["digest"]
    if len(parts) > 1:
        digest = hashlib.sha256("".join(p["digest"] for p in parts).encode()).hexdigest()
    return {
        "path": " + ".join(str(path) for path in paths),
        "files": sum(p["files"] for p in parts),
        "digest": digest,
        "counts": dict(zip(CANONICAL_CLASSES, (int(c) for c in counts), strict=True)),
    }


def describe_data_change(split: str, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """One line naming how ``split`` changed, or None when its fingerprint is the same."""
    if old["digest"] == new["digest"] and old["counts"] == new["counts"]:
        return None
    parts = []
    if old["files"] != new["files"]:
        parts.append(f"{old['files']} -> {new['files']} files")
    changed = [
        f"{name} {old['counts'].get(name, 0)} -> {count}"
        for name, count in new["counts"].items()
        if old["counts"].get(name, 0) != count
    ]
    if changed:
        parts.append("class counts " + ", ".join(changed))
    if not parts:
        parts.append("same counts but file names or sizes differ")
    return f"{split} data ({new['path']}): " + "; ".join(parts)


def check_resumable(
    payload: dict[str, Any],
    raw_config: dict[str, Any],
    data: dict[str, dict[str, Any]],
    allowed: Iterable[str] = (),
) -> None:
    """Raise ResumeMismatch naming every config key and data split that differ from the
    checkpoint ``payload``; return quietly when the run can continue exactly.
    """
    problems = diff_configs(payload.get("config", {}), raw_config, allowed)
    saved_data = payload.get("data", {})
    for split, now in data.items():
        before = saved_data.get(split)
        change = "no fingerprint in the checkpoint" if before is None else None
        change = change or describe_data_change(split, before, now)
        if change:
            problems.append(change)
    if problems:
        raise ResumeMismatch(
            "cannot resume: the run differs from its checkpoint in\n  "
            + "\n  ".join(problems)
            + "\nRestore the original config/data, start a new run (another [run] name), or "
            "accept a deliberate config change with --allow-changed KEY (breaks exact replay)."
        )
