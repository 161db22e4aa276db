"""``python -m bench.small_faces``: identity against face size on the shared photos, shrunk.

Every scene and probe of ``../shared/testdata/faces`` at 100, 50, 35, 30 and 25 % (INTER_AREA)
goes through the default engine with a gallery of the five enrolled people. Two views:

- ``per_scale``: what the engine decides (faces found against the manifest's count, enrolled
  people named, anyone named wrongly);
- ``per_size``: for faces whose identity is known (see ``labelled_rows``), embedded whatever
  their size: is the nearest template the right person's, at what distance, with what margin
  to the nearest other identity. Buckets by the detector box's shorter side.

This is the evidence behind MIN_IDENTITY_PX and DEFAULT_MATCH_MARGIN (docs/inference.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inference.analysis_cli import build_gallery
from inference.engine import FaceEngine
from inference.face_geometry import extract_chips
from inference.identity import CHIP_PADDING, CHIP_SIZE, Gallery
from inference.image_io import decode_image

FACES = Path(__file__).resolve().parents[2] / "shared/testdata/faces"
SCALES = (1.0, 0.5, 0.35, 0.3, 0.25)
BUCKETS = ((">=40", 40, 10_000), ("24-39", 24, 40), ("16-23", 16, 24), ("<16", 0, 16))


def photos(manifest: dict[str, Any]) -> list[tuple[str, list[str], int | None]]:
    """(file, identities in it, face count or None) of every scene and probe."""
    scenes = [(s["file"], s["identities"], s["faces"]) for s in manifest["scenes"]]
    probes = [
        (p["file"], [p["identity"]] if p["identity"] else [], None) for p in manifest["probe"]
    ]
    return scenes + probes


def nearest(gallery: Gallery, embedding: np.ndarray) -> tuple[str, float, float]:
    """(nearest identity, its distance, distance to the nearest other identity)."""
    dist = np.sqrt(((gallery.matrix - embedding) ** 2).sum(axis=1))
    best: dict[str, float] = {}
    for key, d in zip(gallery.keys, dist, strict=True):
        best[key] = min(best.get(key, np.inf), float(d))
    ranked = sorted(best.items(), key=lambda kv: kv[1])
    return ranked[0][0], ranked[0][1], ranked[1][1] if len(ranked) > 1 else np.inf


def measure(engine: FaceEngine, gallery: Gallery, image: np.ndarray) -> list[dict[str, Any]]:
    """Every detected face's size and nearest identity, embedded whatever its size."""
    rgb = np.ascontiguousarray(image[:, :, ::-1])
    faces = engine._find_faces(rgb)
    chips = extract_chips(rgb, [f.shape for f in faces], CHIP_SIZE, CHIP_PADDING)
    vectors = engine.embedder.embed_chips(chips)
    rows = []
    for face, vector in zip(faces, vectors, strict=True):
        who, distance, other = nearest(gallery, vector)
        rows.append({"size": min(face.det.box[2:]), "nearest": who, "d": distance, "d2": other})
    return rows


def labelled_rows(
    rows: list[dict[str, Any]], identities: list[str], count: int | None
) -> list[dict[str, Any]]:
    """Rows whose true identity is known, with ``right`` set: a probe's largest face, and every
    face of a scene that shows only enrolled people when exactly that many faces were found
    (so each face is one of them). Scenes with an unenrolled person are left out."""
    if count is None:
        rows = sorted(rows, key=lambda r: -r["size"])[:1]
    elif count != len(identities) or len(rows) != count:
        return []
    for row in rows:
        row["right"] = row["nearest"] in identities if identities else False
    return [r for r in rows if identities]


def bucket(size: int) -> str:
    return next(name for name, low, high in BUCKETS if low <= size < high)


def run(faces_dir: Path = FACES) -> dict[str, Any]:
    manifest = json.loads((faces_dir / "manifest.json").read_text())
    engine = FaceEngine()
    gallery = build_gallery(engine, faces_dir / "enroll")
    per_scale: dict[str, Any] = {}
    sizes: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in BUCKETS}
    for scale in SCALES:
        found = extra = named = wrong = expected_faces = expected_named = 0
        for file, identities, count in photos(manifest):
            image = decode_image((faces_dir / file).read_bytes())
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            result = engine.analyze_frame(image, gallery)
            names = [f.identity for f in result.faces if f.identity]
            if count is not None:
                found += min(len(result.faces), count)
                extra += max(0, len(result.faces) - count)
                expected_faces += count
            named += len(set(names) & set(identities))
            expected_named += len(identities)
            wrong += sum(1 for n in names if n not in identities)
            for row in labelled_rows(measure(engine, gallery, image), identities, count):
                sizes[bucket(row["size"])].append(row)
        per_scale[str(scale)] = {
            "scene_faces_found": f"{found}/{expected_faces}",
            "scene_extra_detections": extra,
            "enrolled_named": f"{named}/{expected_named}",
            "named_wrongly": wrong,
        }
    return {"per_scale": per_scale, "per_size": summarise(sizes)}


def summarise(sizes: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out = {}
    for name, rows in sizes.items():
        known = rows
        genuine = [r for r in known if r["right"]]
        out[name] = {
            "faces": len(rows),
            "nearest_right": f"{len(genuine)}/{len(known)}",
            "genuine_distance": span([r["d"] for r in genuine]),
            "genuine_margin_min": round(min((r["d2"] - r["d"] for r in genuine), default=0.0), 3),
        }
    return out


def span(values: Sequence[float]) -> str | None:
    return f"{min(values):.2f}-{max(values):.2f}" if values else None


def main() -> int:
    if not (FACES / "manifest.json").is_file():
        print(f"shared photos not found at {FACES}", file=sys.stderr)
        return 2
    result = run()
    for scale, figures in result["per_scale"].items():
        print(scale, figures)
    for name, figures in result["per_size"].items():
        print(name, figures)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
