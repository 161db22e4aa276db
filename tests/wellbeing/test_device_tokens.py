"""Capture devices authenticate with a token stored only as a hash; rotation and revocation."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from capture.devices import (
    DeviceAuthError,
    DeviceRefused,
    authenticate_device,
    create_device,
    revoke_device,
    rotate_device_token,
)
from capture.models import CaptureDevice
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Classroom, Organization, Participant
from wellbeing.refusals import NotYours


def test_token_is_stored_only_as_hash(school: Organization, classroom: Classroom) -> None:
    # given a new classroom camera
    device, token = create_device(AuditContext.system(school), "Camera", classroom=classroom)
    # then the plaintext token is nowhere in the row, and it authenticates
    row = CaptureDevice.objects.values().get(pk=device.pk)
    assert token not in " ".join(str(v) for v in row.values())
    assert authenticate_device(token) == device


def test_rotation_invalidates_the_old_token(school: Organization, classroom: Classroom) -> None:
    # given a device and its token
    device, old = create_device(AuditContext.system(school), "Camera", classroom=classroom)
    # when the token is rotated
    new = rotate_device_token(AuditContext.system(school), device)
    # then only the new one works
    assert authenticate_device(new).pk == device.pk
    with pytest.raises(DeviceAuthError, match="Unknown device token"):
        authenticate_device(old)
    assert AuditEvent.objects.filter(action="device.rotate", target_id=str(device.pk)).exists()


def test_revoked_device_is_refused_with_a_clear_message(
    school: Organization, student: Participant
) -> None:
    # given a student's own laptop
    device, token = create_device(AuditContext.system(school), "Laptop", participant=student)
    # when it is revoked
    revoke_device(AuditContext.system(school), device)
    # then its token is refused and it cannot get a new one
    with pytest.raises(DeviceAuthError, match="revoked"):
        authenticate_device(token)
    with pytest.raises(DeviceRefused, match="revoked"):
        rotate_device_token(AuditContext.system(school), device)


def test_device_needs_exactly_one_owner_of_the_same_school(
    school: Organization, classroom: Classroom, student: Participant, other_school: Organization
) -> None:
    with pytest.raises(DeviceRefused, match="exactly one"):
        create_device(AuditContext.system(school), "Both", classroom=classroom, participant=student)
    with pytest.raises(DeviceRefused, match="another school"):
        create_device(AuditContext.system(other_school), "Theirs", classroom=classroom)
    assert CaptureDevice.objects.count() == 0


def test_empty_or_garbage_tokens_are_refused(db: object) -> None:
    with pytest.raises(DeviceAuthError, match="No device token"):
        authenticate_device("")
    with pytest.raises(DeviceAuthError, match="Unknown"):
        authenticate_device("wbd_not-a-real-token")


def test_another_school_cannot_rotate_or_revoke(
    school: Organization, classroom: Classroom, other_school: Organization
) -> None:
    # given our classroom camera
    device, token = create_device(AuditContext.system(school), "Camera", classroom=classroom)
    theirs = AuditContext.system(other_school)
    # when another school's context tries to rotate or revoke it, then it is refused
    with pytest.raises(NotYours, match="another school"):
        rotate_device_token(theirs, device)
    with pytest.raises(NotYours, match="another school"):
        revoke_device(theirs, device)
    # and nothing changed: the token still works, no audit event was written for them
    assert authenticate_device(token).pk == device.pk
    assert not AuditEvent.objects.filter(organization=other_school).exists()


@pytest.mark.parametrize("owners", ["none", "both"])
def test_database_refuses_a_device_without_exactly_one_owner(
    school: Organization, classroom: Classroom, student: Participant, owners: str
) -> None:
    # given a row written around create_device (Django admin, a script)
    fields = {"classroom": classroom, "participant": student} if owners == "both" else {}
    # then the database constraint refuses it
    with pytest.raises(IntegrityError, match="device_classroom_or_participant"):
        CaptureDevice.objects.create(
            organization=school, name="Orphan", token_prefix="wbd_x", token_hash="x" * 64, **fields
        )
