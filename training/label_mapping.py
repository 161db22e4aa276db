"""Mapping tables from each dataset's own labels to ``CANONICAL_CLASSES``.

Every loader turns a dataset's label (a folder name, a CSV code, a numeric folder) into an index
into ``CANONICAL_CLASSES`` with one of these tables. A label mapped to ``None`` is a class the
platform does not model (contempt) and its images are skipped and counted, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping

from inference.model_manifest import CANONICAL_CLASSES
from training.errors import DatasetError

# FER-2013 csv "emotion" column: 0=Angry 1=Disgust 2=Fear 3=Happy 4=Sad 5=Surprise 6=Neutral.
FER_CSV_LABELS: Mapping[int, str | None] = {
    0: "angry",
    1: "disgust",
    2: "fear",
    3: "happy",
    4: "sad",
    5: "surprise",
    6: "neutral",
}

# RAF-DB basic (list_patition_label.txt and numeric folders): 1=Surprise 2=Fear 3=Disgust
# 4=Happiness 5=Sadness 6=Anger 7=Neutral.
RAFDB_LABELS: Mapping[str, str | None] = {
    "1": "surprise",
    "2": "fear",
    "3": "disgust",
    "4": "happy",
    "5": "sad",
    "6": "angry",
    "7": "neutral",
}

# AffectNet numeric folders / annotations: 0=Neutral 1=Happy 2=Sad 3=Surprise 4=Fear 5=Disgust
# 6=Anger 7=Contempt; 8-10 (None, Uncertain, No-face) are no emotion class and, like contempt,
# are skipped and counted.
AFFECTNET_LABELS: Mapping[str, str | None] = {
    "0": "neutral",
    "1": "happy",
    "2": "sad",
    "3": "surprise",
    "4": "fear",
    "5": "disgust",
    "6": "angry",
    "7": None,
    "8": None,
    "9": None,
    "10": None,
}

# Folder names seen in FER-2013, CK+ (CK+48), AffectNet and RAF-DB copies, and in user folders.
FOLDER_NAME_SYNONYMS: Mapping[str, str | None] = {
    **{name: name for name in CANONICAL_CLASSES},
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "fearfull": "fear",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "neutrality": "neutral",
    "contempt": None,
}

# Which numeric folder table a layout uses; None = class-named folders only.
NUMERIC_TABLES: Mapping[str, Mapping[str, str | None]] = {
    "rafdb": RAFDB_LABELS,
    "affectnet": AFFECTNET_LABELS,
}


def canonical_index(name: str) -> int:
    """Index of a canonical class name; raises DatasetError for anything else."""
    try:
        return CANONICAL_CLASSES.index(name)
    except ValueError as exc:
        raise DatasetError(f"{name!r} is not one of {CANONICAL_CLASSES}") from exc


def map_folder_label(folder: str, layout: str) -> str | None:
    """Canonical class for a class folder of ``layout``; None means "skip this class".

    Raises DatasetError naming the folder and the accepted names when it is unknown.
    """
    key = folder.strip().lower()
    numeric = NUMERIC_TABLES.get(layout, {})
    if key in numeric:
        return numeric[key]
    if key in FOLDER_NAME_SYNONYMS:
        return FOLDER_NAME_SYNONYMS[key]
    accepted = sorted(set(FOLDER_NAME_SYNONYMS) | set(numeric))
    raise DatasetError(
        f"unknown class folder {folder!r} for layout {layout!r}; accepted names: {accepted}"
    )
