"""Shared fixtures: the test photos in ../shared/testdata/faces and one loaded engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FACES_DIR = REPO_ROOT.parent / "shared" / "testdata" / "faces"
FER_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "fer2013.tar.gz"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES_DIR / "manifest.json").is_file():
        pytest.skip(f"shared face photos not found at {FACES_DIR}")
    return FACES_DIR


@pytest.fixture(scope="session")
def faces_manifest(faces_dir: Path) -> dict[str, Any]:
    return json.loads((faces_dir / "manifest.json").read_text())


@pytest.fixture(scope="session")
def engine() -> Any:
    from inference.engine import FaceEngine

    return FaceEngine()


@pytest.fixture(scope="session")
def gallery(engine: Any, faces_dir: Path) -> Any:
    from inference.analysis_cli import build_gallery

    return build_gallery(engine, faces_dir / "enroll")


def load_bgr(path: Path) -> Any:
    from inference.image_io import decode_image

    return decode_image(path.read_bytes())
