"""Tracks keep identities across frames, re-check on schedule, and smooth probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inference.tracking import TrackerState
from tests.inference.conftest import load_bgr


def test_moving_box_keeps_its_track_and_a_new_box_gets_a_new_one() -> None:
    # given a tracker that saw one face
    tracker = TrackerState()
    first = tracker.associate([(100, 100, 60, 60)], now=0.0)[0]
    # when the face moves a little and a second face appears far away
    moved, other = tracker.associate([(110, 104, 60, 60), (600, 300, 60, 60)], now=0.2)
    # then the moved face keeps its track id and the new face gets another
    assert moved.track_id == first.track_id
    assert other.track_id != first.track_id


def test_tracks_unseen_longer_than_max_age_are_forgotten() -> None:
    # given a track last seen at t=0
    tracker = TrackerState(max_age=1.0)
    old = tracker.associate([(100, 100, 60, 60)], now=0.0)[0]
    # when the same place is seen again after max_age / then it is a new track
    assert tracker.associate([(100, 100, 60, 60)], now=5.0)[0].track_id != old.track_id


def test_rolling_mean_uses_the_last_window_frames() -> None:
    # given a 5-frame window and 7 one-hot frames of alternating classes
    tracker = TrackerState(smoothing_window=5)
    track = tracker.associate([(0, 0, 50, 50)], now=0.0)[0]
    frames = [np.eye(7, dtype=np.float32)[i % 2] for i in range(7)]
    # when each frame is added
    for probs in frames:
        smoothed = tracker.smooth(track, probs)
    # then the result is the mean of the last five frames only
    assert np.allclose(smoothed, np.mean(frames[-5:], axis=0))


def test_ema_moves_towards_new_evidence() -> None:
    # given EMA smoothing with alpha 0.5 after a "happy" frame
    tracker = TrackerState(ema_alpha=0.5)
    track = tracker.associate([(0, 0, 50, 50)], now=0.0)[0]
    a, b = np.eye(7, dtype=np.float32)[3], np.eye(7, dtype=np.float32)[5]
    tracker.smooth(track, a)
    # when a "sad" frame arrives / then the estimate is halfway between
    assert np.allclose(tracker.smooth(track, b), 0.5 * a + 0.5 * b)


def test_every_frame_is_identified_afresh(engine: Any, gallery: Any, faces_dir: Path) -> None:
    # given a tracked stream of the same two-person frame
    image = load_bgr(faces_dir / "scenes/two_people.jpg")
    tracker = TrackerState()
    first = engine.analyze_frame(image, gallery, tracker, timestamp=0.0)
    # when the next frame comes 0.2 s later
    second = engine.analyze_frame(image, gallery, tracker, timestamp=0.2)
    # then the same tracks and identities come back, each from a new embedding (distances
    # are recomputed, so an embedding ran: the tracker holds none to copy them from)
    assert [f.track_id for f in second.faces] == [f.track_id for f in first.faces]
    assert [f.identity for f in second.faces] == [f.identity for f in first.faces]
    assert all(f.distance is not None for f in second.faces)
    assert second.timings_ms["embed"] > 0.5


def test_unknown_tracks_hold_no_embedding(engine: Any, gallery: Any, faces_dir: Path) -> None:
    # given the unknown probe analysed with a tracker
    tracker = TrackerState()
    image = load_bgr(faces_dir / "probe/unknown_lin_manuel_miranda.png")
    result = engine.analyze_frame(image, gallery, tracker, timestamp=0.0)
    # then the face is unknown and neither the result nor the track holds any vector
    assert result.faces[0].identity is None
    for obj in [result.faces[0], *tracker.tracks.values()]:
        for value in vars(obj).values():
            assert not (isinstance(value, np.ndarray) and value.size >= 128)
