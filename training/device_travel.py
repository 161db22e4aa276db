"""What travels to a lent GPU machine, and how this checkout is made light enough to travel.

The device tool copies the working tree, meaning tracked files, untracked files that git does not
ignore, and the paths a call carries, and it refuses a tree over 64 MiB. The committed models
(``inference/models``, about 220 MB) make this checkout three times too big, and training needs
none of them. ``lighten_tree`` takes those folders out of git's index and ignores them in
``.git/info/exclude``. The files stay on disk, and nothing is committed. ``restore_tree`` puts
the index and the exclude file back as they were. A marker in ``.git`` records the lightening,
so a second lightening or a restore without one is refused. A commit made while the tree was
light would record the models as deleted, so ``restore_tree`` refuses if that happened and
says how to undo it.

``travel_bytes`` measures what a call would send without touching anything. See docs/training.md,
"A GPU run".
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from training.errors import TrainingError

DEVICE_TREE_LIMIT_BYTES = 64 * 1024 * 1024
LEFT_BEHIND = ("inference/models",)
MARKER = "wellbeing-device-tree.json"
EXCLUDE_NOTE = "# wellbeing device-tree: not sent to the device; undo with device-tree restore"


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo``; a failure raises TrainingError with git's own message."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TrainingError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def repo_root(start: Path) -> Path:
    """The top folder of the repository holding ``start``: paths here are relative to it, as
    the device tool's carry paths are."""
    return Path(git(start, "rev-parse", "--show-toplevel").strip())


def travelling_files(repo: Path, leaving_out: Sequence[str] = ()) -> list[Path]:
    """Files the device tool would copy: tracked and untracked-not-ignored, present on disk,
    except those under ``leaving_out`` (folders relative to ``repo``)."""
    listed = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    prefixes = tuple(folder.rstrip("/") + "/" for folder in leaving_out)
    names = {name for name in listed.split("\0") if name and not name.startswith(prefixes)}
    return [repo / name for name in sorted(names) if (repo / name).is_file()]


def path_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder; 0 when missing."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def travel_bytes(repo: Path, carry: Iterable[Path] = (), leaving_out: Sequence[str] = ()) -> int:
    """Bytes a device call would send: the travelling files plus the carried paths."""
    files = sum(f.stat().st_size for f in travelling_files(repo, leaving_out))
    return files + sum(path_bytes(repo / p) for p in carry)


def marker_path(repo: Path) -> Path:
    return Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / MARKER


def exclude_path(repo: Path) -> Path:
    # --git-path answers relative to the repository's top folder, not to this process's cwd.
    return (repo / git(repo, "rev-parse", "--git-path", "info/exclude").strip()).resolve()


def check_unchanged(repo: Path, folders: Sequence[str]) -> None:
    """Refuse when a folder has staged or unstaged changes: the restore puts back HEAD's index,
    so such changes would be lost."""
    for folder in folders:
        staged = git(repo, "diff", "--cached", "--name-only", "--", folder).split()
        unstaged = git(repo, "diff", "--name-only", "--", folder).split()
        if staged or unstaged:
            raise TrainingError(
                f"{folder} has uncommitted changes ({', '.join((staged + unstaged)[:3])}); "
                "commit or undo them before lightening the tree"
            )


def lighten_tree(repo: Path, folders: Sequence[str] = LEFT_BEHIND) -> None:
    """Take ``folders`` out of git's index and ignore them (files stay on disk).

    Side effects: the index (the folders' deletions staged) and ``.git/info/exclude``; writes
    the marker. Commit nothing until ``restore_tree`` has run.
    """
    marker = marker_path(repo)
    if marker.exists():
        raise TrainingError("the tree is already lightened; run `device-tree restore` first")
    check_unchanged(repo, folders)
    head = git(repo, "rev-parse", "HEAD").strip()
    for folder in folders:
        git(repo, "rm", "-r", "-q", "--cached", "--", folder)
    exclude = exclude_path(repo)
    exclude.parent.mkdir(parents=True, exist_ok=True)
    before = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    # The block starts on a line of its own, or it would change the file's last pattern.
    separator = "\n" if before and not before.endswith("\n") else ""
    exclude.write_text(before + separator + exclude_block(folders), encoding="utf-8")
    record = {"head": head, "folders": list(folders), "exclude_before": before}
    marker.write_text(json.dumps(record), encoding="utf-8")


def restore_tree(repo: Path) -> list[str]:
    """Undo ``lighten_tree``: the folders back in the index as HEAD has them, the exclude lines
    gone, the marker removed. Returns the folders restored.

    Refuses, changing nothing, when HEAD no longer holds a folder (a commit made while light).
    """
    marker = marker_path(repo)
    if not marker.exists():
        raise TrainingError("the tree is not lightened (no marker in .git); nothing to restore")
    record = json.loads(marker.read_text(encoding="utf-8"))
    folders: list[str] = record["folders"]
    for folder in folders:
        if not git(repo, "ls-tree", "-r", "--name-only", "HEAD", "--", folder).strip():
            raise TrainingError(
                f"HEAD no longer holds {folder}: a commit was made while the tree was light "
                f"(lightened at {record['head'][:12]}). Undo it with `git reset --soft "
                f"{record['head'][:12]}` (keeps your other changes staged), then restore again"
            )
    for folder in folders:
        git(repo, "reset", "-q", "HEAD", "--", folder)
    restore_exclude(exclude_path(repo), record["exclude_before"], folders)
    marker.unlink()
    return folders


def restore_exclude(exclude: Path, before: str, folders: Sequence[str]) -> None:
    """Put the exclude file back as it was before lightening; where it was edited since, remove
    only the lines the lightening appended."""
    now = exclude.read_text(encoding="utf-8")
    if now.removeprefix(before).lstrip("\n") != exclude_block(folders):
        ours = set(exclude_block(folders).splitlines())
        before = "".join(line for line in now.splitlines(True) if line.rstrip("\n") not in ours)
    exclude.write_text(before, encoding="utf-8")


def exclude_block(folders: Sequence[str]) -> str:
    """The lines ``lighten_tree`` appends to the exclude file."""
    return "\n".join([EXCLUDE_NOTE, *(f"/{folder.strip('/')}/" for folder in folders)]) + "\n"
