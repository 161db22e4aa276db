"""Dataset loaders: layouts, label mapping, preprocessing identity and clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.emotion_preprocessing import preprocess_faces
from inference.model_manifest import CANONICAL_CLASSES, Preprocessing
from tests.training.conftest import synthetic_face, write_class_folders
from training.dataset_loaders import load_dataset
from training.errors import DatasetError

SPEC = Preprocessing(size=24, mean=(0.5,), std=(0.3,))


def write_fer_csv(path: Path, rows: list[tuple[int, np.ndarray, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for code, img, usage in rows:
            writer.writerow([code, " ".join(str(int(v)) for v in img.ravel()), usage])
    return path


def test_folder_split_loads_every_image_with_canonical_labels(synthetic_split: Path) -> None:
    # given 12 synthetic images per canonical class
    # when the split is loaded
    ds = load_dataset("fer-folder", synthetic_split, "train", SPEC)
    # then every class has 12 images and inputs have the model's NCHW shape
    assert ds.class_counts() == {name: 12 for name in CANONICAL_CLASSES}
    assert ds.inputs.shape == (84, 1, 24, 24)
    assert ds.inputs.dtype == np.float32


def test_loader_output_equals_the_engines_preprocessing(synthetic_split: Path) -> None:
    # given one image file of the split
    path = sorted((synthetic_split / "happy").iterdir())[0]
    # when it is loaded by the loader and, separately, preprocessed like the engine does
    ds = load_dataset("folder", synthetic_split, "train", SPEC)
    index = CANONICAL_CLASSES.index("happy") * 12  # folders load in sorted (canonical) order
    crop = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert crop is not None
    engine = preprocess_faces([crop], SPEC)
    # then both are identical
    np.testing.assert_array_equal(ds.inputs[index], engine[0])


def test_fer_csv_maps_codes_and_filters_usage(tmp_path: Path) -> None:
    # given a csv with codes 4 (sad) and 6 (neutral) in Training and one PublicTest row
    rng = np.random.default_rng(1)
    img = [synthetic_face(0, rng, 48) for _ in range(3)]
    path = write_fer_csv(
        tmp_path / "fer2013.csv",
        [(4, img[0], "Training"), (6, img[1], "Training"), (3, img[2], "PublicTest")],
    )
    # when the Training rows are loaded
    ds = load_dataset("fer-csv", path, "Training", Preprocessing(size=48))
    # then labels are canonical sad and neutral, and pixels are the row's pixels / 255
    assert [CANONICAL_CLASSES[i] for i in ds.labels] == ["sad", "neutral"]
    np.testing.assert_allclose(ds.inputs[0, 0], img[0] / 255.0, atol=1e-6)


def test_fer_csv_bad_rows_name_the_line(tmp_path: Path) -> None:
    # given a csv whose second data row has 10 pixels and one with an unknown code
    good = np.zeros((48, 48), np.uint8)
    path = tmp_path / "bad.csv"
    write_fer_csv(path, [(0, good, "Training"), (1, np.zeros(10, np.uint8), "Training")])
    # when loaded, then the error names file and line
    with pytest.raises(DatasetError, match=r"bad.csv:3: expected 2304 pixel values"):
        load_dataset("fer-csv", path, "Training", SPEC)
    write_fer_csv(path, [(9, good, "Training")])
    with pytest.raises(DatasetError, match=r"emotion code 9 is not 0..6"):
        load_dataset("fer-csv", path, "Training", SPEC)


def test_fer_csv_missing_column_and_empty_usage(tmp_path: Path) -> None:
    # given a csv without a pixels column, and a valid csv without PrivateTest rows
    path = tmp_path / "x.csv"
    path.write_text("emotion,Usage\n0,Training\n")
    # when loaded, then both errors say what is wrong
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['pixels'\]"):
        load_dataset("fer-csv", path, "Training", SPEC)
    write_fer_csv(path, [(0, np.zeros((48, 48), np.uint8), "Training")])
    with pytest.raises(DatasetError, match="no rows with Usage == 'PrivateTest'"):
        load_dataset("fer-csv", path, "PrivateTest", SPEC)


def test_unknown_class_folder_is_an_error(tmp_path: Path) -> None:
    # given a split with a folder named "bored"
    root = write_class_folders(tmp_path / "split", ["happy", "bored"], per_class=2)
    # when loaded, then the folder is named in the error
    with pytest.raises(DatasetError, match="unknown class folder 'bored'"):
        load_dataset("folder", root, "train", SPEC)


def test_unreadable_file_is_an_error(synthetic_split: Path) -> None:
    # given a corrupt .jpg among the images
    bad = synthetic_split / "fear" / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    # when loaded, then the file is named
    with pytest.raises(DatasetError, match=r"unreadable image file: .*broken\.jpg"):
        load_dataset("fer-folder", synthetic_split, "train", SPEC)


def test_empty_class_and_missing_root_are_errors(synthetic_split: Path, tmp_path: Path) -> None:
    # given an empty class folder, and a path that does not exist
    for f in (synthetic_split / "disgust").iterdir():
        f.unlink()
    # when loaded, then each error says which
    with pytest.raises(DatasetError, match="disgust contains no images"):
        load_dataset("fer-folder", synthetic_split, "train", SPEC)
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load_dataset("fer-folder", tmp_path / "nope", "train", SPEC)
    with pytest.raises(DatasetError, match="unknown dataset format 'kaggle'"):
        load_dataset("kaggle", synthetic_split, "train", SPEC)


def test_ckplus_skips_contempt_and_maps_synonyms(tmp_path: Path) -> None:
    # given a CK+48 layout with anger, contempt and sadness folders
    root = write_class_folders(tmp_path / "ck", ["anger", "contempt", "sadness"], per_class=3)
    # when loaded
    ds = load_dataset("ckplus", root, "train", SPEC)
    # then contempt is skipped and counted, the others are angry and sad
    assert ds.skipped == {"contempt": 3}
    counts = ds.class_counts()
    assert (counts["angry"], counts["sad"], len(ds)) == (3, 3, 6)


def test_affectnet_and_rafdb_numeric_folders(tmp_path: Path) -> None:
    # given numeric class folders "1" and "6"
    root = write_class_folders(tmp_path / "num", ["1", "6"], per_class=2)
    # when loaded as AffectNet and as RAF-DB
    affect = load_dataset("affectnet", root, "train", SPEC).class_counts()
    raf = load_dataset("rafdb", root, "train", SPEC).class_counts()
    # then each uses its own table (AffectNet 1=happy 6=anger; RAF-DB 1=surprise 6=anger)
    assert (affect["happy"], affect["angry"]) == (2, 2)
    assert (raf["surprise"], raf["angry"]) == (2, 2)


def test_rafdb_original_list_layout(tmp_path: Path) -> None:
    # given RAF-DB basic with EmoLabel/list_patition_label.txt and Image/aligned/
    rng = np.random.default_rng(2)
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "Image" / "aligned").mkdir(parents=True)
    entries = [("train_00001.jpg", 4), ("train_00002.jpg", 7), ("test_0001.jpg", 1)]
    for name, _ in entries:
        stem = Path(name).stem
        target = tmp_path / "Image" / "aligned" / f"{stem}_aligned.jpg"
        cv2.imwrite(str(target), synthetic_face(0, rng))
    lines = "\n".join(f"{name} {code}" for name, code in entries)
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text(lines + "\n")
    # when the train split is loaded
    ds = load_dataset("rafdb", tmp_path, "train", SPEC)
    # then only train entries come, with RAF-DB codes 4=happy and 7=neutral
    assert [CANONICAL_CLASSES[i] for i in ds.labels] == ["happy", "neutral"]


def test_real_fer_sample_loads(fer_sample: Path) -> None:
    # given a few hundred real FER-2013 val images
    # when loaded at the native 48x48
    ds = load_dataset("fer-folder", fer_sample, "PublicTest", Preprocessing(size=48))
    # then all seven classes are present and pixel values are within [0, 1]
    assert all(count > 0 for count in ds.class_counts().values())
    assert float(ds.inputs.min()) >= 0.0 and float(ds.inputs.max()) <= 1.0


def test_affectnet_non_emotion_folders_are_skipped_and_counted(tmp_path: Path) -> None:
    # given AffectNet numeric folders 1 (happy), 7 (contempt) and 8-10 (none, uncertain, no face)
    root = write_class_folders(tmp_path / "aff", ["1", "7", "8", "9", "10"], per_class=2)
    # when loaded
    ds = load_dataset("affectnet", root, "train", SPEC)
    # then only the happy images load and the other folders are reported as skipped
    assert ds.class_counts()["happy"] == 2 and len(ds) == 2
    assert ds.skipped == {"10": 2, "7": 2, "8": 2, "9": 2}
