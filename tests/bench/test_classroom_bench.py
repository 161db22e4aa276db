"""bench.classroom's matching rules, and the labels it is judged against."""

from __future__ import annotations

import dlib
import pytest

from bench.classroom import DEFAULT_PHOTOS, Tally, load_labels, match_photo, read_rgb
from inference.detection import Detection


def detection(box: tuple[int, int, int, int], confidence: float = 0.9) -> Detection:
    x, y, w, h = box
    return Detection(box=box, confidence=confidence, rect=dlib.rectangle(x, y, x + w, y + h))


def test_each_face_is_matched_once_and_ignore_boxes_count_neither_way() -> None:
    # given two labelled faces (20 and 50 px) and one ignore box
    faces = [(0, 0, 20, 24), (100, 100, 50, 60)]
    ignore = [(300, 300, 30, 30)]
    # when two detections hit the first face, one the ignore box, one empty wall
    found = [
        detection((1, 1, 20, 24), 0.99),
        detection((0, 2, 20, 24), 0.8),
        detection((301, 300, 30, 30)),
        detection((500, 500, 40, 40)),
    ]
    tally = match_photo(found, faces, ignore)
    summary = tally.summary()
    # then the 20 px face is found, the 50 px face missed, the duplicate and the wall are false
    # positives, and the detection on the ignore box is not counted at all
    assert summary["recall_16-24"] == 1.0 and summary["recall_40-80"] == 0.0
    assert summary["false_positives"] == 2
    assert summary["precision"] == pytest.approx(1 / 3, abs=1e-3)


def test_tallies_add_up_across_photos() -> None:
    # given two photos' tallies / when added / then the counts are summed per bucket
    total = Tally()
    total.add(match_photo([detection((0, 0, 30, 30))], [(0, 0, 30, 30)], []))
    total.add(match_photo([], [(0, 0, 30, 30)], []))
    assert total.summary()["recall_24-40"] == 0.5 and total.summary()["faces_24-40"] == 2


def test_labels_cover_every_shared_photo_inside_its_frame() -> None:
    if not DEFAULT_PHOTOS.is_dir():
        pytest.skip(f"shared classroom photos not found at {DEFAULT_PHOTOS}")
    labels = load_labels()
    # given the labels file / then every shared photo is labelled, with its true size
    assert {p.stem for p in DEFAULT_PHOTOS.glob("*.jpg")} == set(labels)
    for photo, truth in labels.items():
        height, width = read_rgb(DEFAULT_PHOTOS / f"{photo}.jpg").shape[:2]
        assert (truth["width"], truth["height"]) == (width, height), photo
        # and every box has a positive size and lies (almost) inside the photo
        for x, y, w, h in truth["faces"] + truth["ignore"]:
            assert w > 0 and h > 0 and x >= -2 and y >= -2, photo
            assert x + w <= width + 2 and y + h <= height + 2, photo
