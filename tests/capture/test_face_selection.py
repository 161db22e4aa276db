"""What the worker keeps of one analysed frame: one observation per consented participant;
unknown and not-assessable faces become counts only."""

from __future__ import annotations

from capture.processing import present_not_assessable, select_observations
from inference.engine import FaceResult
from inference.model_manifest import CANONICAL_CLASSES

PROBS = {name: 1.0 / len(CANONICAL_CLASSES) for name in CANONICAL_CLASSES}


def face(identity: str | None, quality: float = 0.9, assessable: bool = True) -> FaceResult:
    return FaceResult(
        box=(0, 0, 80, 80),
        quality=quality,
        assessable=assessable,
        identity=identity,
        distance=0.3 if identity else None,
        emotion="neutral" if assessable else None,
        probs=dict(PROBS) if assessable else None,
        engaged=True,
        yaw=0.0,
        pitch=0.0,
        track_id=None,
    )


def test_unknown_unconsented_and_not_assessable_faces_are_only_counted() -> None:
    # given a stranger, a matched person no longer in the consented gallery, a consented
    # participant whose face is not assessable, and a consented, assessable participant
    faces = [face(None), face("99"), face("7", quality=0.3, assessable=False), face("5")]
    # when the worker selects what to store
    observations, unknown, not_assessable = select_observations(faces, allowed={"5", "7"})
    # then only participant 5 is observed; the others are counts without identity
    assert [o.participant_id for o in observations] == [5]
    assert (unknown, not_assessable) == (2, 1)


def test_two_faces_matched_to_one_participant_keep_the_better_one() -> None:
    # given two faces both matched to participant 5 (a look-alike, or a photo in the room)
    faces = [face("5", quality=0.6), face("5", quality=0.95)]
    # when selected
    observations, unknown, not_assessable = select_observations(faces, allowed={"5"})
    # then one observation, from the better-quality face; the other counts as unknown
    assert [(o.participant_id, o.quality) for o in observations] == [(5, 0.95)]
    assert (unknown, not_assessable) == (1, 0)


def test_present_not_assessable_names_only_consented_people_without_an_observation() -> None:
    # given a stranger's and an unconsented person's small faces, participant 7 twice too small,
    # and participant 5 once too small and once assessable in the same frame
    faces = [
        face(None, assessable=False),
        face("99", assessable=False),
        face("7", assessable=False),
        face("7", assessable=False),
        face("5", assessable=False),
        face("5"),
    ]
    allowed = {"5", "7"}
    observations, _, _ = select_observations(faces, allowed)
    # when the worker lists who was present but not assessable
    present = present_not_assessable(faces, allowed, observations)
    # then only participant 7, once: 5 was assessed, the others are not consented
    assert present == [7]
