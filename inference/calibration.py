"""``python -m inference calibrate``: measure genuine/impostor embedding distances on a
labelled face set (the layout of ../shared/testdata/faces) to choose the match threshold.

Genuine pairs: every labelled probe against the enrollment photos of the same person, and the
enrollment photos of one person against each other. Impostor pairs: every photo against every
other person's enrollment photos, and every unlabelled ("identity": null) probe against all.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from inference.engine import FaceEngine
from inference.image_io import decode_image


def embed_labelled(engine: FaceEngine, root: Path) -> list[tuple[str | None, str, np.ndarray]]:
    """(identity or None, kind "enroll"/"probe", embedding) for each photo in the manifest."""
    manifest = json.loads((root / "manifest.json").read_text())
    out: list[tuple[str | None, str, np.ndarray]] = []
    for identity, files in manifest["enroll"].items():
        for name in files:
            image = decode_image((root / name).read_bytes())
            out.append((identity, "enroll", engine.embed_enrollment_photo(image)))
    for probe in manifest["probe"]:
        image = decode_image((root / probe["file"]).read_bytes())
        faces = engine._find_faces(np.ascontiguousarray(image[:, :, ::-1]))
        if faces:
            best = max(faces, key=lambda f: f.det.box[2])
            rgb = np.ascontiguousarray(image[:, :, ::-1])
            from inference.face_geometry import extract_chips
            from inference.identity import CHIP_PADDING, CHIP_SIZE

            chips = extract_chips(rgb, [best.shape], CHIP_SIZE, CHIP_PADDING)
            out.append((probe["identity"], "probe", engine.embedder.embed_chips(chips)[0]))
    return out


def measure_distances(items: list[tuple[str | None, str, np.ndarray]]) -> dict[str, Any]:
    """Genuine and impostor distance lists and the gap between them."""
    genuine: list[float] = []
    impostor: list[float] = []
    for (id_a, kind_a, a), (id_b, kind_b, b) in combinations(items, 2):
        if "enroll" not in (kind_a, kind_b):
            continue  # only distances to enrolled templates matter for matching
        dist = float(np.linalg.norm(a - b))
        same = id_a is not None and id_a == id_b
        (genuine if same else impostor).append(dist)
    return {
        "genuine_max": max(genuine),
        "impostor_min": min(impostor),
        "genuine": sorted(round(d, 4) for d in genuine),
        "impostor_lowest": sorted(round(d, 4) for d in impostor)[:10],
        "n_genuine": len(genuine),
        "n_impostor": len(impostor),
    }
