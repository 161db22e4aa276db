"""``python -m bench.classroom``: face detection on real group photos, per size bucket.

Ground truth: ``bench/classroom_faces.json``, hand-checked boxes for the 11 photos of
``../shared/testdata/classroom`` (x, y, w, h; WIDER FACE convention, hairline to chin; see its
"about"). A detection is a true positive when it overlaps an unmatched labelled face with
IoU >= 0.5 (greedy, strongest detection first); one that overlaps an "ignore" box instead
counts neither way. Face size = the shorter side of the labelled box; buckets <16, 16-24,
24-40, 40-80, >80 px (a detection's own size places an unmatched one). Time per photo is the
median wall time of the detector alone on one thread, after one warm-up call.

The labels were made from a CNN detector's proposals at a low threshold and checked by eye,
with missed faces added by hand (3 of 515): a face that no proposal found is less likely to be
in them, so read the CNN's recall as an upper estimate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inference.benchmark import median_ms
from inference.detection import Detection, create_detector
from inference.tracking import Box, box_iou

LABELS = Path(__file__).resolve().parent / "classroom_faces.json"
DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "shared/testdata/classroom"
BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<16", 0, 16),
    ("16-24", 16, 24),
    ("24-40", 24, 40),
    ("40-80", 40, 80),
    (">80", 80, float("inf")),
)
MATCH_IOU = 0.5


def bucket_of(box: Box) -> str:
    side = min(box[2], box[3])
    return next(name for name, low, high in BUCKETS if low <= side < high)


@dataclass
class Tally:
    """Counts for one detector (and one photo or all photos)."""

    faces: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    false_positives: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        for mine, theirs in (
            (self.faces, other.faces),
            (self.found, other.found),
            (self.false_positives, other.false_positives),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value

    def summary(self) -> dict[str, Any]:
        """Recall per bucket, and recall/precision overall and for faces of 16 px or more."""
        out: dict[str, Any] = {}
        for name, _, _ in BUCKETS:
            n = self.faces.get(name, 0)
            out[f"recall_{name}"] = round(self.found.get(name, 0) / n, 4) if n else None
            out[f"faces_{name}"] = n
        true_pos = sum(self.found.values())
        false_pos = sum(self.false_positives.values())
        out["recall"] = round(true_pos / max(sum(self.faces.values()), 1), 4)
        out["precision"] = round(true_pos / max(true_pos + false_pos, 1), 4)
        out["false_positives"] = false_pos
        big = [name for name, low, _ in BUCKETS if low >= 16]
        tp16 = sum(self.found.get(b, 0) for b in big)
        fp16 = sum(self.false_positives.get(b, 0) for b in big)
        out["precision_16px_and_more"] = round(tp16 / max(tp16 + fp16, 1), 4)
        return out


def match_photo(
    detections: Sequence[Detection], faces: Sequence[Box], ignore: Sequence[Box]
) -> Tally:
    """Greedy IoU matching of one photo's detections (strongest first) to its labels."""
    tally = Tally()
    for face in faces:
        tally.faces[bucket_of(face)] = tally.faces.get(bucket_of(face), 0) + 1
    unmatched = list(range(len(faces)))
    for det in sorted(detections, key=lambda d: -d.confidence):
        ious = [(box_iou(det.box, faces[i]), i) for i in unmatched]
        best = max(ious, default=(0.0, -1))
        if best[0] >= MATCH_IOU:
            unmatched.remove(best[1])
            key = bucket_of(faces[best[1]])
            tally.found[key] = tally.found.get(key, 0) + 1
        elif not any(box_iou(det.box, box) >= MATCH_IOU for box in ignore):
            key = bucket_of(det.box)
            tally.false_positives[key] = tally.false_positives.get(key, 0) + 1
    return tally


def load_labels(path: Path = LABELS) -> dict[str, dict[str, Any]]:
    photos: dict[str, dict[str, Any]] = json.loads(path.read_text())["photos"]
    return photos


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise FileNotFoundError(f"cannot read {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def bench_detector(
    name: str, photos_dir: Path, labels: dict[str, dict[str, Any]], repeats: int
) -> dict[str, Any]:
    """Per-photo and overall figures of one detector (see module doc)."""
    detector = create_detector(name, threads=1)
    total, per_photo = Tally(), {}
    for photo, truth in sorted(labels.items()):
        rgb = read_rgb(photos_dir / f"{photo}.jpg")
        found = detector.detect(rgb)
        tally = match_photo(found, [tuple(b) for b in truth["faces"]], truth["ignore"])
        total.add(tally)
        ms = median_ms(partial(detector.detect, rgb), repeats)
        per_photo[photo] = tally.summary() | {"ms": round(ms, 1), "detections": len(found)}
    times = [p["ms"] for p in per_photo.values()]
    return total.summary() | {"ms_per_photo_median": statistics.median(times), "photos": per_photo}


def run(photos_dir: Path, detectors: Iterable[str], repeats: int) -> dict[str, Any]:
    labels = load_labels()
    return {
        "labels": str(LABELS.name),
        "faces": sum(len(p["faces"]) for p in labels.values()),
        "detectors": {
            name: bench_detector(name, photos_dir, labels, repeats) for name in detectors
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.classroom", description=__doc__)
    parser.add_argument("--photos", default=str(DEFAULT_PHOTOS))
    parser.add_argument("--detectors", default="rfb,hog,hog2x", help="comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    photos = Path(args.photos)
    if not photos.is_dir():
        print(f"no photos at {photos}: ../shared/testdata/classroom is needed", file=sys.stderr)
        return 2
    result = run(photos, args.detectors.split(","), args.repeats)
    for name, figures in result["detectors"].items():
        line = {k: v for k, v in figures.items() if k != "photos"}
        print(name, json.dumps(line))
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
