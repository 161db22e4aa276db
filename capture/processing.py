"""The worker's action: one queued frame -> observations of consented participants, once.

Privacy contract: the frame bytes and the decoded image live only inside ``process_frame``; a
face that matches no consented participant leaves only a count on the session. A consented
participant recognised but not assessable leaves that count and, for them, only "present, not
assessable" in this session (capture.models.PresenceTally), never an emotion number.
Per-session tracker state (temporal smoothing) stays in this process.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Literal

from django.conf import settings

from capture.active_model import engine_on_active_model
from capture.frame_store import get_frame_store
from capture.gallery import SessionGallery, build_session_gallery
from capture.live import build_live_summary, push_live_summary
from capture.models import ClassSession, ProcessedFrame
from capture.timeseries import (
    FaceObservation,
    FrameOutcome,
    count_dropped_frame,
    store_frame_outcome,
)
from inference.engine import FaceResult, FrameResult
from inference.image_io import ImageDecodeError, decode_image
from inference.tracking import TrackerState
from wellbeing.face_engine import get_face_engine
from wellbeing.models import FaceDetector, Organization

log = logging.getLogger(__name__)

Result = Literal["stored", "duplicate", "dropped"]
# Frames of one session may alternate between worker processes, so tracks must survive gaps of
# a few seconds (the engine's default of 2 s is tuned for a single video stream).
TRACK_MAX_AGE_S = 5.0
TRACKER_IDLE_S = 600.0

_trackers_lock = threading.Lock()
_trackers: dict[int, tuple[float, TrackerState]] = {}


def tracker_for(session_id: int) -> TrackerState:
    """This process's tracker of the session (created on first use, dropped when idle).

    New trackers come from the engine, so its configured smoothing (window or EMA) applies.
    """
    engine = get_face_engine()  # outside the lock: the first call loads the models (seconds)
    now = time.monotonic()
    with _trackers_lock:
        for key in [k for k, (used, _) in _trackers.items() if now - used > TRACKER_IDLE_S]:
            del _trackers[key]
        entry = _trackers.get(session_id)
        tracker = entry[1] if entry else engine.new_tracker(max_age=TRACK_MAX_AGE_S)
        _trackers[session_id] = (now, tracker)
    return tracker


def session_detector(session: ClassSession) -> str:
    """The face detector for the session's frames: its classroom's setting for a classroom
    camera; the default (RFB) for a personal device."""
    if session.classroom is not None:
        return session.classroom.detector
    return FaceDetector.RFB.value


def scrub_tracks(tracker: TrackerState, allowed: set[str]) -> None:
    """Forget identities (and their smoothing history) no longer in the consented gallery.

    The engine names every face from the frame's own embedding against the current gallery,
    so a withdrawn participant is never named again; this also drops, at once, the recent
    emotion probabilities their track still holds in memory.
    """
    for track in tracker.tracks.values():
        if track.identity is not None and track.identity not in allowed:
            track.identity = track.distance = None
            track.history.clear()
            track.ema = None


def select_observations(
    faces: list[FaceResult], allowed: set[str]
) -> tuple[list[FaceObservation], int, int]:
    """(observations, unknown count, not-assessable count); one observation per participant.

    Two faces matched to the same participant in one frame keep the better-quality one; the
    other counts as unknown.
    """
    best: dict[str, FaceResult] = {}
    unknown = not_assessable = 0
    for face in faces:
        if face.identity is None or face.identity not in allowed:
            unknown += 1
        elif not face.assessable or face.probs is None or face.emotion is None:
            not_assessable += 1
        else:
            previous = best.get(face.identity)
            if previous is not None:
                unknown += 1
            if previous is None or face.quality > previous.quality:
                best[face.identity] = face
    observations = [to_observation(int(key), face) for key, face in best.items()]
    return observations, unknown, not_assessable


def present_not_assessable(
    faces: list[FaceResult], allowed: set[str], observations: list[FaceObservation]
) -> list[int]:
    """Consented participants recognised in the frame only in faces without an expression.

    Sorted, once each; a participant who also has an observation in this frame is left out
    (they were assessed). Faces of anyone outside ``allowed`` never reach this list.
    """
    observed = {obs.participant_id for obs in observations}
    present = {
        int(face.identity)
        for face in faces
        if face.identity is not None
        and face.identity in allowed
        and not (face.assessable and face.probs is not None and face.emotion is not None)
    }
    return sorted(present - observed)


def to_observation(participant_id: int, face: FaceResult) -> FaceObservation:
    assert face.probs is not None and face.emotion is not None
    return FaceObservation(
        participant_id=participant_id,
        probs=face.probs,
        emotion=face.emotion,
        engaged=face.engaged,
        yaw=face.yaw,
        pitch=face.pitch,
        quality=face.quality,
    )


def analyse_frame(
    image_bytes: bytes,
    session_id: int,
    gallery: SessionGallery,
    at: float,
    detector: str | None = None,
) -> FrameResult:
    """Decode (with the upload limits) and run the engine with ``detector`` (None: the
    engine's default); ImageDecodeError if undecodable."""
    image = decode_image(
        image_bytes, max_bytes=settings.MAX_UPLOAD_BYTES, max_pixels=settings.FRAME_MAX_PIXELS
    )
    tracker = tracker_for(session_id)
    scrub_tracks(tracker, set(gallery.participants))
    engine = engine_on_active_model()  # loaded once; follows a newly activated model
    return engine.analyze_frame(image, gallery.gallery, tracker, timestamp=at, detector=detector)


def session_organization(session: ClassSession) -> Organization:
    owner = session.classroom or session.participant
    assert owner is not None  # the model's check constraint guarantees one of the two
    return owner.organization


def process_frame(
    frame_id: str, session_id: int, device_id: int | None, captured_at: float
) -> Result:
    """Analyse and store one queued frame exactly once (see module doc).

    Raises django.db.OperationalError (database down) and FrameStoreUnavailable (Redis down):
    the task retries; the frame stays in Redis until it is stored.
    """
    store = get_frame_store()
    data = store.get_frame(frame_id)
    if ProcessedFrame.objects.filter(frame_id=frame_id).exists():
        store.delete_frame(frame_id)
        return "duplicate"
    session = (
        ClassSession.objects.select_related("classroom__organization", "participant__organization")
        .filter(pk=session_id)
        .first()
    )
    if data is None or session is None:
        log.info("frame %s dropped: %s", frame_id, "expired" if session else "session gone")
        if session is not None:
            count_dropped_frame(session_id)
        return "dropped"
    outcome = outcome_of(frame_id, session, device_id, captured_at, data)
    del data  # the bytes are not needed past analysis
    if outcome is None:
        count_dropped_frame(session_id)
        store.delete_frame(frame_id)
        return "dropped"
    org = session_organization(session)
    stored = store_frame_outcome(org.pk, org.tzinfo, outcome)
    store.delete_frame(frame_id)
    if stored:
        frames = session.frames_processed + 1  # approximate: concurrent frames may interleave
        push_live_summary(build_live_summary(outcome, frames, org.min_group_size))
    return "stored" if stored else "duplicate"


def outcome_of(
    frame_id: str, session: ClassSession, device_id: int | None, captured_at: float, data: bytes
) -> FrameOutcome | None:
    """Run the engine on the frame; None when the bytes do not decode."""
    gallery = build_session_gallery(session)
    try:
        result = analyse_frame(
            data, session.pk, gallery, captured_at, detector=session_detector(session)
        )
    except ImageDecodeError as exc:
        log.info("frame %s dropped: not decodable (%s)", frame_id, type(exc).__name__)
        return None
    allowed = set(gallery.participants)
    observations, unknown, not_assessable = select_observations(result.faces, allowed)
    return FrameOutcome(
        frame_id=frame_id,
        session_id=session.pk,
        device_id=device_id,
        captured_at=dt.datetime.fromtimestamp(captured_at, tz=dt.UTC),
        faces=len(result.faces),
        unknown=unknown,
        not_assessable=not_assessable,
        observations=observations,
        present_not_assessable=present_not_assessable(result.faces, allowed, observations),
    )
