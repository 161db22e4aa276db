"""The capture client is its own distribution that installs and runs without Django (issue 14)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from django.conf import settings

CLIENT_DIR = Path(settings.BASE_DIR) / "capture_client"
SERVER_LIBRARIES = ("django", "rest_framework", "celery", "channels", "onnxruntime", "dlib")

RUN_WITHOUT_SERVER_LIBRARIES = f"""
import sys
for name in {SERVER_LIBRARIES!r}:
    sys.modules[name] = None  # any import of it now raises ImportError
from wellbeing_capture.client import main
code = main(["/no/such/video.mp4", "--token", "t", "--server", "http://127.0.0.1:9"])
apps = {{"wellbeing", "capture", "inference"}}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in apps)
print("exit", code, "apps", loaded)
"""


def test_client_runs_with_the_server_libraries_unimportable(tmp_path: Path) -> None:
    # given a Python process in which Django, Celery, ONNX Runtime and dlib cannot be imported
    # when the client is started on a source that does not exist
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_SERVER_LIBRARIES],
        cwd=tmp_path,
        env={"PYTHONPATH": str(CLIENT_DIR), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then it runs, refuses the source with its own exit code and loads no server package
    assert result.returncode == 0, result.stderr
    assert "exit 2 apps []" in result.stdout
    assert "no such video file" in result.stderr


def test_client_wheel_holds_only_the_client_and_needs_no_django(tmp_path: Path) -> None:
    # given a copy of the client's source folder (the build writes into its source)
    source = shutil.copytree(CLIENT_DIR, tmp_path / "src", ignore=shutil.ignore_patterns("build"))
    # when its wheel is built
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("wellbeing_capture-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith("/METADATA"))
        entry_points = next(
            archive.read(n).decode() for n in names if n.endswith("entry_points.txt")
        )
    # then it contains the client package only, depends on OpenCV and NumPy only, and installs
    # the wellbeing-capture command
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith("info")}
    assert packages == {"wellbeing_capture"}
    requires = sorted(
        line.split()[1] for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    )
    assert [r.split(">")[0].split("<")[0] for r in requires] == ["numpy", "opencv-python-headless"]
    assert "wellbeing-capture = wellbeing_capture.client:main" in entry_points
