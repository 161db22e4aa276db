"""Load face datasets into one preprocessed array, in canonical label order.

Supported layouts (``format`` in a config's ``[data]`` table):

- ``fer-folder``: ``<split>/<class>/*.jpg`` as in ../shared/data/fer2013.tar.gz (Kaggle copy).
- ``fer-csv``: the original ``fer2013.csv`` (columns emotion, pixels, Usage); the split is chosen
  by Usage ("Training", "PublicTest", "PrivateTest").
- ``rafdb``: RAF-DB basic, either ``<split>/<1..7>/`` folders or the original
  ``Image/aligned/`` + ``EmoLabel/list_patition_label.txt`` (the split is the file-name prefix).
- ``ckplus``: CK+ folder layout (``anger``, ``contempt``, ``disgust``, ... ; contempt skipped).
- ``affectnet``: AffectNet folder layout, numeric (``0..7``) or class-named folders.
- ``folder``: any folder-per-class dataset whose folder names are canonical classes or synonyms.

Every image goes through :func:`inference.emotion_preprocessing.preprocess_faces`, the function
the engine uses at run time. Errors (unknown class folder, unreadable file, empty class, bad CSV
row) raise DatasetError naming the offending path.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from inference.emotion_preprocessing import preprocess_faces
from inference.model_manifest import CANONICAL_CLASSES, Preprocessing
from training.errors import DatasetError
from training.label_mapping import FER_CSV_LABELS, RAFDB_LABELS, canonical_index, map_folder_label

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm"})
FOLDER_FORMATS = ("fer-folder", "rafdb", "ckplus", "affectnet", "folder")
FORMATS = (*FOLDER_FORMATS, "fer-csv")
CHUNK = 2048  # images preprocessed per call, bounds the memory of raw decoded crops


@dataclass
class FaceDataset:
    """Preprocessed faces (N,C,S,S float32 for NCHW) with canonical labels (N, int64)."""

    inputs: np.ndarray
    labels: np.ndarray
    source: str
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(CANONICAL_CLASSES))
        return {name: int(counts[i]) for i, name in enumerate(CANONICAL_CLASSES)}


def read_image(path: Path) -> np.ndarray:
    """Decode one image file as uint8 BGR/gray; raises DatasetError when it cannot be read."""
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else np.empty(0, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise DatasetError(f"unreadable image file: {path}")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF: keep the top byte
        image = (image // 257).astype(np.uint8) if image.dtype == np.uint16 else None
        if image is None:
            raise DatasetError(f"unsupported pixel type in {path}")
    return image


def preprocess_files(paths: list[Path], spec: Preprocessing) -> np.ndarray:
    """Decode and preprocess files in chunks; returns the model-input array for all of them."""
    shape = (spec.channels, spec.size, spec.size)
    if spec.layout == "NHWC":
        shape = (spec.size, spec.size, spec.channels)
    out = np.empty((len(paths), *shape), dtype=np.float32)
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start : start + CHUNK]
        out[start : start + len(chunk)] = preprocess_faces([read_image(p) for p in chunk], spec)
    return out


def list_class_folders(root: Path, layout: str) -> tuple[list[Path], list[int], dict[str, int]]:
    """(image paths, canonical labels, skipped-per-folder) of a folder-per-class split.

    Raises DatasetError for a missing root, an unknown class folder or a class with no images.
    """
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DatasetError(f"{root} has no class folders (expected <class>/<image> files)")
    paths: list[Path] = []
    labels: list[int] = []
    skipped: dict[str, int] = {}
    for folder in folders:
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        name = map_folder_label(folder.name, layout)
        if not files:
            raise DatasetError(f"class folder {folder} contains no images")
        if name is None:
            skipped[folder.name] = len(files)
            continue
        paths.extend(files)
        labels.extend([canonical_index(name)] * len(files))
    return paths, labels, skipped


def load_folder_split(root: Path, layout: str, spec: Preprocessing) -> FaceDataset:
    """Load one folder-per-class split of ``layout`` (see the module docstring)."""
    paths, labels, skipped = list_class_folders(root, layout)
    inputs = preprocess_files(paths, spec)
    return FaceDataset(inputs, np.asarray(labels, dtype=np.int64), f"{layout}:{root}", skipped)


def parse_fer_row(row: dict[str, str], line: int, path: Path) -> tuple[np.ndarray, int]:
    """One FER csv row -> (48x48 uint8 image, canonical label); DatasetError on a bad row."""
    try:
        code = int(row["emotion"])
        pixels = np.asarray(row["pixels"].split(), dtype=np.int64)
    except (KeyError, ValueError, AttributeError) as exc:
        raise DatasetError(f"{path}:{line}: bad emotion/pixels value ({exc})") from exc
    if code not in FER_CSV_LABELS:
        raise DatasetError(f"{path}:{line}: emotion code {code} is not 0..6")
    if pixels.size != 48 * 48 or pixels.min() < 0 or pixels.max() > 255:
        raise DatasetError(f"{path}:{line}: expected 2304 pixel values 0..255")
    name = FER_CSV_LABELS[code]
    assert name is not None  # every FER code is a canonical class
    return pixels.astype(np.uint8).reshape(48, 48), canonical_index(name)


def load_fer_csv(path: Path, usage: str, spec: Preprocessing) -> FaceDataset:
    """Rows of the original fer2013.csv whose Usage equals ``usage`` (e.g. "Training")."""
    if not path.is_file():
        raise DatasetError(f"FER-2013 csv not found: {path}")
    csv.field_size_limit(sys.maxsize)
    crops: list[np.ndarray] = []
    labels: list[int] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: missing column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            if row.get("Usage", usage) != usage:
                continue
            crop, label = parse_fer_row(row, line, path)
            crops.append(crop)
            labels.append(label)
    if not crops:
        raise DatasetError(f"{path}: no rows with Usage == {usage!r}")
    inputs = np.concatenate(
        [preprocess_faces(crops[i : i + CHUNK], spec) for i in range(0, len(crops), CHUNK)]
    )
    return FaceDataset(inputs, np.asarray(labels, dtype=np.int64), f"fer-csv:{path}#{usage}")


def load_rafdb_list(root: Path, split: str, spec: Preprocessing) -> FaceDataset:
    """RAF-DB basic in its original layout: the label list plus ``Image/aligned`` images."""
    list_file = root / "EmoLabel" / "list_patition_label.txt"
    paths: list[Path] = []
    labels: list[int] = []
    for line_no, line in enumerate(list_file.read_text().splitlines(), start=1):
        parts = line.split()
        if len(parts) != 2 or parts[1] not in RAFDB_LABELS:
            raise DatasetError(f"{list_file}:{line_no}: expected '<file> <1..7>', got {line!r}")
        if not parts[0].startswith(split):
            continue
        stem = Path(parts[0]).stem
        paths.append(root / "Image" / "aligned" / f"{stem}_aligned.jpg")
        name = RAFDB_LABELS[parts[1]]
        assert name is not None
        labels.append(canonical_index(name))
    if not paths:
        raise DatasetError(f"{list_file}: no entries for split {split!r}")
    inputs = preprocess_files(paths, spec)
    return FaceDataset(inputs, np.asarray(labels, dtype=np.int64), f"rafdb:{root}#{split}")


def load_dataset(fmt: str, path: Path, split: str, spec: Preprocessing) -> FaceDataset:
    """Load ``split`` of a dataset of format ``fmt`` located at ``path``.

    For folder formats ``path`` is the split folder itself (``split`` is informative only),
    for ``fer-csv`` ``split`` is the Usage value, and for ``rafdb`` with the original layout
    ``path`` is the RAF-DB basic root and ``split`` is "train" or "test".
    """
    if fmt == "fer-csv":
        return load_fer_csv(path, split, spec)
    if fmt == "rafdb" and (path / "EmoLabel" / "list_patition_label.txt").is_file():
        return load_rafdb_list(path, split, spec)
    if fmt in FOLDER_FORMATS:
        return load_folder_split(path, fmt, spec)
    raise DatasetError(f"unknown dataset format {fmt!r}; expected one of {FORMATS}")


def describe_counts(labels: Iterable[int]) -> str:
    """'angry=10 disgust=2 ...' for logs."""
    counts = Counter(int(x) for x in labels)
    return " ".join(f"{name}={counts.get(i, 0)}" for i, name in enumerate(CANONICAL_CLASSES))
