"""The worker's per-session trackers come from the engine, so its smoothing settings apply."""

from __future__ import annotations

import dataclasses

import pytest

from capture.processing import TRACK_MAX_AGE_S, tracker_for
from wellbeing.face_engine import get_face_engine


def test_session_tracker_smooths_as_the_engine_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the worker's engine configured for EMA smoothing over a 3-frame window
    engine = get_face_engine()
    config = dataclasses.replace(engine.config, ema_alpha=0.4, smoothing_window=3)
    monkeypatch.setattr(engine, "config", config)
    # when a new session's tracker is made, and asked for again
    tracker = tracker_for(-4242)
    again = tracker_for(-4242)
    # then it carries those settings and the worker's track lifetime, and is kept per session
    assert (tracker.ema_alpha, tracker.smoothing_window) == (0.4, 3)
    assert tracker.max_age == TRACK_MAX_AGE_S == 5.0
    assert again is tracker
