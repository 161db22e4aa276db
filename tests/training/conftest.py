"""Fixtures: small synthetic face datasets written by the tests, and a FER-2013 sample.

Nothing here imports torch, so that test modules can skip cleanly (pytest.importorskip) when
the `training` extra is not installed.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.model_manifest import CANONICAL_CLASSES

REPO_ROOT = Path(__file__).resolve().parents[2]
FER_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "fer2013.tar.gz"
FER_PER_CLASS = 40  # 280 real images: enough for parity and loader checks, fast to extract


def synthetic_face(label: int, rng: np.random.Generator, size: int = 24) -> np.ndarray:
    """A gray image whose class is a bright bar at a class-specific row, plus noise."""
    img = rng.integers(0, 60, (size, size), dtype=np.uint8)
    row = 1 + label * (size - 3) // len(CANONICAL_CLASSES)
    img[row : row + 3, 2:-2] = 230
    return img


def write_class_folders(root: Path, names: list[str], per_class: int, seed: int = 0) -> Path:
    """Write ``per_class`` PNGs into ``root/<name>/`` for each name; returns ``root``."""
    rng = np.random.default_rng(seed)
    for name in names:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        label = CANONICAL_CLASSES.index(name) if name in CANONICAL_CLASSES else 0
        for i in range(per_class):
            cv2.imwrite(str(folder / f"{name}_{i}.png"), synthetic_face(label, rng))
    return root


@pytest.fixture
def synthetic_split(tmp_path: Path) -> Path:
    """A folder-per-class split with 12 images of each canonical class (84 images)."""
    return write_class_folders(tmp_path / "train", list(CANONICAL_CLASSES), per_class=12)


@pytest.fixture(scope="session")
def fer_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Up to 40 images per class of the shared FER-2013 val split, in the folder layout."""
    if not FER_ARCHIVE.is_file():
        pytest.skip(f"shared FER-2013 archive not found at {FER_ARCHIVE}")
    root = tmp_path_factory.mktemp("fer") / "val"
    counts: dict[str, int] = {}
    with tarfile.open(FER_ARCHIVE, "r:gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 4 or parts[-3] != "val":
                continue
            label = parts[-2]
            if counts.get(label, 0) >= FER_PER_CLASS:
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            (root / label).mkdir(parents=True, exist_ok=True)
            (root / label / parts[-1]).write_bytes(handle.read())
            counts[label] = counts.get(label, 0) + 1
    return root


def tiny_config(
    train: Path, val: Path, out: Path, family: str = "baseline", epochs: int = 2
) -> dict:
    """A TOML-equivalent config dict for a seconds-long run on 24x24 synthetic faces."""
    return {
        "run": {"name": f"tiny-{family}", "seed": 7, "output_dir": str(out)},
        "data": {"format": "folder", "train": str(train), "val": str(val)},
        "preprocessing": {"size": 24, "mean": [0.5], "std": [0.3]},
        "model": {"family": family, "width": 0.25, "dropout": 0.0},
        "train": {
            "epochs": epochs,
            "batch_size": 16,
            "lr": 0.003,
            "weight_decay": 0.0,
            "label_smoothing": 0.0,
            "early_stopping_patience": 5,
            "threads": 1,
        },
        "augmentation": {"enabled": False},
    }


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run folder of a two-epoch baseline run on synthetic data (best.pt, log.csv, ...)."""
    pytest.importorskip("torch", reason="the `training` extra (torch) is not installed")
    from training.training_config import parse_config
    from training.training_run import train_model

    base = tmp_path_factory.mktemp("run")
    data = write_class_folders(base / "train", list(CANONICAL_CLASSES), per_class=12)
    config = parse_config(tiny_config(data, data, base / "runs", epochs=3))
    train_model(config)
    return config.run_dir
