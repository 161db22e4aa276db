"""`python -m inference analyze` on an image: the documented JSON; clear errors for bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.model_manifest import CANONICAL_CLASSES
from tests.inference.conftest import REPO_ROOT

TIMED_STAGES = {"detect", "align", "embed", "classify", "total"}


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "inference", "analyze", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)


def test_image_analysis_prints_the_documented_json(faces_dir: Path) -> None:
    # given a scene with two enrolled people and a child who is not enrolled
    scene = faces_dir / "scenes/obama+biden.jpg"
    # when analysed with the enrollment folder
    out = analyze(str(scene), "--enroll", str(faces_dir / "enroll"), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # then every face has box, quality, identity, emotion, probs and track
    faces = result["faces"]
    assert len(faces) == 3
    for face in faces:
        assert {"box", "quality", "identity", "emotion", "probs", "track"} <= set(face)
        assert len(face["box"]) == 4 and all(isinstance(v, int) for v in face["box"])
        assert 0.0 <= face["quality"] <= 1.0
        if face["probs"] is not None:
            assert list(face["probs"]) == sorted(CANONICAL_CLASSES)  # sort_keys
            assert sum(face["probs"].values()) == pytest.approx(1.0, abs=1e-4)
            assert face["emotion"] == max(face["probs"], key=face["probs"].__getitem__)
    # and the enrolled people are named, the child is not, and stages are timed
    assert sorted(str(f["identity"]) for f in faces) == ["None", "biden", "obama"]
    assert set(result["timings_ms"]) >= TIMED_STAGES


def jpeg_bytes() -> bytes:
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


BAD_FILES: dict[str, Callable[[], bytes]] = {
    "empty.jpg": lambda: b"",
    "notes.jpg": lambda: b"name,mood\nalice,happy\n",
    "truncated.jpg": lambda: jpeg_bytes()[:600],
    "broken.mp4": lambda: bytes(np.random.default_rng(1).integers(0, 255, 4096, np.uint8)),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_get_a_clear_error(tmp_path: Path, name: str) -> None:
    # given an empty, non-image, truncated or corrupt video file
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name]())
    # when analysed
    out = analyze(str(path), "--json")
    # then the command exits 2 with one "error:" line and no traceback or JSON
    assert out.returncode == 2, out.stderr
    assert "error: " in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


def test_missing_file_gets_a_clear_error(tmp_path: Path) -> None:
    # given a path that does not exist / then exit 2 naming it
    out = analyze(str(tmp_path / "absent.jpg"))
    assert out.returncode == 2 and "absent.jpg" in out.stderr


def test_the_package_never_imports_django() -> None:
    # given a fresh interpreter / when every inference module is imported and a face analysed
    code = (
        "import sys, numpy as np\n"
        "import inference.cli, inference.analysis_cli, inference.benchmark, inference.evaluation\n"
        "from inference import FaceEngine, Gallery\n"
        "FaceEngine().analyze_frame(np.zeros((64, 64, 3), np.uint8), Gallery.from_templates({}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    # then Django was never loaded (inference is a plain Python package)
    assert out.stdout.strip() == "[]"
