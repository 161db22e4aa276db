"""The fair pick (capture.fair_scheduling) on the tests' real Redis: worker time shared between
schools by measured cost, devices of a school in turn; per-device and per-school caps; a turn's
claim survives its redelivery; and ingest answers 429 to a device over its share while another
school's device is admitted."""

from __future__ import annotations

import time
from typing import Any

import pytest

from capture.devices import create_device
from capture.fair_scheduling import (
    FairScheduler,
    FairShareExceeded,
    PendingFrame,
    get_turn_scheduler,
)
from capture.frame_store import INFERENCE_QUEUE
from capture.models import ProcessedFrame
from tests.capture.conftest import post_frame, read_face, start_session
from tests.factories import make_classroom
from wellbeing.actions import AuditContext
from wellbeing.models import Organization

SCHOOL_A, SCHOOL_B = 1, 2


@pytest.fixture
def scheduler(redis_client: Any) -> FairScheduler:
    """The scheduler on the tests' Redis, its keys emptied by redis_client."""
    return get_turn_scheduler()


def add(scheduler: FairScheduler, school: int, device: int, name: str) -> None:
    scheduler.add_frame(INFERENCE_QUEUE, PendingFrame(name, 1, device, 0.0, school))


def costs(scheduler: FairScheduler, **seconds: float) -> None:
    """Record what a frame of device ``d<id>`` of school ``s<id>`` cost, e.g. ``s1_d10=2.0``."""
    for name, cost in seconds.items():
        school, device = (int(part[1:]) for part in name.split("_"))
        frame = PendingFrame("measured", 1, device, 0.0, school)
        scheduler.record_cost(INFERENCE_QUEUE, frame, cost)


def pick_all(scheduler: FairScheduler, queue: str = INFERENCE_QUEUE) -> list[str]:
    """Frame ids in the order turns take them (each turn a task id, released when done)."""
    picked: list[str] = []
    while (frame := scheduler.claim_next_frame(queue, f"turn-{len(picked)}")) is not None:
        scheduler.release_claim(f"turn-{len(picked)}")
        picked.append(frame.frame_id)
    return picked


def test_a_flooding_school_cannot_starve_another(scheduler: FairScheduler) -> None:
    # given school A's device sending frames costing 2 s of worker time, five waiting, one of
    # them already taken by a worker; school B's frames cost 0.5 s
    costs(scheduler, s1_d10=2.0, s2_d20=0.5)
    for k in range(1, 6):
        add(scheduler, SCHOOL_A, 10, f"a{k}")
    taken = scheduler.claim_next_frame(INFERENCE_QUEUE, "in-the-worker")
    assert taken is not None and taken.frame_id == "a1"
    # when school B's camera sends three frames after them
    for k in range(1, 4):
        add(scheduler, SCHOOL_B, 20, f"b{k}")
    # then B's frames go next (they fit in the time A's frame in the worker takes), then A's
    assert pick_all(scheduler) == ["b1", "b2", "b3", "a2", "a3", "a4", "a5"]


def test_two_flooding_schools_share_worker_time_not_frame_counts(
    scheduler: FairScheduler,
) -> None:
    # given two schools with eight frames each waiting, A's costing 2 s and B's 0.5 s
    costs(scheduler, s1_d10=2.0, s2_d20=0.5)
    for k in range(1, 9):
        add(scheduler, SCHOOL_A, 10, f"a{k}")
        add(scheduler, SCHOOL_B, 20, f"b{k}")
    # when turns run, then B gets four frames for each of A's (2 s each way) until B is done
    assert pick_all(scheduler) == [
        *["a1", "b1", "b2", "b3", "b4", "a2", "b5", "b6", "b7", "b8"],
        *["a3", "a4", "a5", "a6", "a7", "a8"],
    ]


def test_devices_of_one_school_take_turns(scheduler: FairScheduler) -> None:
    # given two devices of one school, the first with three frames waiting, the second with two
    for k in range(1, 4):
        add(scheduler, SCHOOL_A, 10, f"x{k}")
    for k in range(1, 3):
        add(scheduler, SCHOOL_A, 11, f"y{k}")
    # when turns run, then the devices alternate, each in its own order
    assert pick_all(scheduler) == ["x1", "y1", "x2", "y2", "x3"]


def test_a_device_over_its_cap_is_refused_and_others_are_not(
    scheduler: FairScheduler, settings: Any
) -> None:
    # given a cap of 3 waiting frames per device and a device with 3 waiting
    settings.FAIR_MAX_PENDING_PER_DEVICE = 3
    for k in range(3):
        add(scheduler, SCHOOL_A, 10, f"a{k}")
    # when it sends a fourth, then it is refused for this device
    with pytest.raises(FairShareExceeded) as refused:
        add(scheduler, SCHOOL_A, 10, "a3")
    assert refused.value.scope == "this device" and refused.value.limit == 3
    # and another device of the same school is admitted
    add(scheduler, SCHOOL_A, 11, "c0")
    # and once a turn took one of its frames, the device is admitted again
    assert scheduler.claim_next_frame(INFERENCE_QUEUE, "turn-1") is not None
    add(scheduler, SCHOOL_A, 10, "a3")


def test_a_school_over_its_cap_is_refused_and_other_schools_flow(
    scheduler: FairScheduler, settings: Any
) -> None:
    # given a cap of 4 waiting frames per school, filled by two devices of school A
    settings.FAIR_MAX_PENDING_PER_SCHOOL = 4
    for device in (10, 11):
        for k in range(2):
            add(scheduler, SCHOOL_A, device, f"{device}-{k}")
    # when a third device of school A sends a frame, then the school's share is exceeded
    with pytest.raises(FairShareExceeded) as refused:
        add(scheduler, SCHOOL_A, 12, "12-0")
    assert refused.value.scope == "this school"
    # and school B is admitted and goes before A's next frame once a worker took one of A's
    assert scheduler.claim_next_frame(INFERENCE_QUEUE, "in-the-worker") is not None
    add(scheduler, SCHOOL_B, 20, "b")
    assert pick_all(scheduler)[0] == "b"
    assert scheduler.pending_count(INFERENCE_QUEUE, SCHOOL_A) == 0


def test_a_redelivered_turn_takes_the_frame_it_claimed(scheduler: FairScheduler) -> None:
    # given a turn that took a frame (its worker then died before finishing)
    add(scheduler, SCHOOL_A, 10, "a1")
    add(scheduler, SCHOOL_A, 10, "a2")
    first = scheduler.claim_next_frame(INFERENCE_QUEUE, "turn-x")
    # when the same task (same id) is delivered again
    again = scheduler.claim_next_frame(INFERENCE_QUEUE, "turn-x")
    # then it processes the same frame, and the other frame still waits for its own turn
    assert first == again == PendingFrame("a1", 1, 10, 0.0, SCHOOL_A)
    assert pick_all(scheduler) == ["a2"]
    # and once released, the claim is gone: that task id would take the next frame
    scheduler.release_claim("turn-x")
    assert scheduler.claim_next_frame(INFERENCE_QUEUE, "turn-x") is None


def test_a_shards_turns_take_only_that_shards_frames(scheduler: FairScheduler) -> None:
    # given a frame waiting on shard 0 and one on shard 1
    scheduler.add_frame("inference.0", PendingFrame("s0", 1, 10, 0.0, SCHOOL_A))
    scheduler.add_frame("inference.1", PendingFrame("s1", 2, 10, 0.0, SCHOOL_A))
    # when turns of shard 1 run, then they take only shard 1's frame
    assert pick_all(scheduler, "inference.1") == ["s1"]
    assert pick_all(scheduler, "inference.0") == ["s0"]


@pytest.mark.django_db
def test_ingest_refuses_a_device_over_its_share_and_admits_another_school(
    camera: Any, other_school: Organization, redis_client: Any, settings: Any
) -> None:
    # given a cap of 2 waiting frames per device and school A's camera with one frame in a
    # worker and 2 waiting (no worker runs here: they stay where they are)
    settings.FAIR_MAX_PENDING_PER_DEVICE = 2
    scheduler = get_turn_scheduler()
    session_a = start_session(camera[1]).json()["session_id"]
    school_a = camera[0].organization_id
    for name in ("in-the-worker", "waiting-1", "waiting-2"):
        frame = PendingFrame(name, session_a, camera[0].pk, time.time(), school_a)
        scheduler.add_frame(INFERENCE_QUEUE, frame)
        if name == "in-the-worker":
            assert scheduler.claim_next_frame(INFERENCE_QUEUE, "a-worker") == frame
    other = create_device(
        AuditContext.system(other_school), "9C camera", classroom=make_classroom(other_school)
    )[1]
    photo = read_face("scenes/obama_240p.jpg")
    # when school A's camera and school B's camera each send a frame
    refused = post_frame(camera[1], session_a, 1, photo)
    admitted = post_frame(other, start_session(other).json()["session_id"], 1, photo)
    # then A's gets 429 with Retry-After and leaves no bytes; B's is queued and (eagerly) stored
    assert refused.status_code == 429
    assert refused.json()["error"] == "fair_share_exceeded"
    assert int(refused["Retry-After"]) > 0
    assert list(redis_client.scan_iter(f"wb:frame:{camera[0].pk}:*")) == []
    assert admitted.status_code == 202
    assert ProcessedFrame.objects.filter(frame_id=admitted.json()["frame_id"]).exists()
