"""Label mapping tables: every dataset's labels land on the canonical classes."""

from __future__ import annotations

import pytest

from inference.model_manifest import CANONICAL_CLASSES
from training.errors import DatasetError
from training.label_mapping import (
    AFFECTNET_LABELS,
    FER_CSV_LABELS,
    RAFDB_LABELS,
    canonical_index,
    map_folder_label,
)


def test_fer_csv_codes_follow_the_original_order() -> None:
    # given the FER-2013 csv order angry, disgust, fear, happy, sad, surprise, neutral
    fer_order = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    # when codes 0..6 are mapped
    mapped = [FER_CSV_LABELS[code] for code in range(7)]
    # then code i is the i-th FER class, and sad/neutral are not taken in canonical position
    assert mapped == fer_order
    assert canonical_index(FER_CSV_LABELS[4] or "") == CANONICAL_CLASSES.index("sad")
    assert canonical_index(FER_CSV_LABELS[6] or "") == CANONICAL_CLASSES.index("neutral")


@pytest.mark.parametrize("table", [FER_CSV_LABELS, RAFDB_LABELS, AFFECTNET_LABELS])
def test_each_table_covers_all_seven_classes_once(table: dict) -> None:
    # given a dataset's label table
    # when the skipped (None) labels are removed
    names = [name for name in table.values() if name is not None]
    # then every canonical class appears exactly once
    assert sorted(names) == sorted(CANONICAL_CLASSES)


def test_numeric_folders_depend_on_the_layout() -> None:
    # given numeric class folders "1" and "7"
    # when mapped with the RAF-DB and AffectNet tables
    # then each layout uses its own published order
    assert map_folder_label("1", "rafdb") == "surprise"
    assert map_folder_label("1", "affectnet") == "happy"
    assert map_folder_label("7", "rafdb") == "neutral"
    assert map_folder_label("7", "affectnet") is None  # contempt


def test_synonyms_and_contempt() -> None:
    # given CK+ style folder names
    # when mapped
    # then synonyms reach canonical names and contempt is skipped (None)
    assert map_folder_label("Anger", "ckplus") == "angry"
    assert map_folder_label("sadness", "ckplus") == "sad"
    assert map_folder_label("contempt", "ckplus") is None


def test_unknown_folder_names_raise_with_the_accepted_names() -> None:
    # given a folder that is no emotion
    # when mapped
    # then a DatasetError names it and lists the accepted names
    with pytest.raises(DatasetError, match=r"unknown class folder 'bored'.*accepted names"):
        map_folder_label("bored", "folder")
    with pytest.raises(DatasetError, match="unknown class folder '3'"):
        map_folder_label("3", "fer-folder")
