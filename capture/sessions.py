"""Starting, joining and ending class sessions from a capture device.

A classroom camera's session belongs to its classroom; a personal device's session belongs to
the one participant the device is bound to. The jurisdiction gate is checked on every start.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from capture.errors import CaptureBlockedError, SessionNotFoundError, SessionStateError
from capture.models import CaptureDevice, ClassSession, SessionStatus
from capture.signals import session_ended
from wellbeing.actions import AuditContext, record_audit


def device_sessions(device: CaptureDevice) -> QuerySet[ClassSession]:
    """Sessions the device may stream into (its classroom's, or its participant's)."""
    if device.classroom_id is not None:
        return ClassSession.objects.filter(classroom_id=device.classroom_id)
    if device.participant_id is not None:
        return ClassSession.objects.filter(participant_id=device.participant_id)
    return ClassSession.objects.none()


def check_capture_allowed(device: CaptureDevice) -> None:
    """Raise CaptureBlockedError when the organization may not capture (jurisdiction gate)."""
    reason = device.organization.capture_block_reason()
    if reason:
        raise CaptureBlockedError(reason)


def start_session(
    device: CaptureDevice, session_id: int | None = None, title: str = ""
) -> ClassSession:
    """Start a new session, or join the scheduled/running one with ``session_id``.

    Raises CaptureBlockedError (jurisdiction gate), SessionNotFoundError (not this device's
    session), SessionStateError (already ended). Audited as ``capture.start``.
    """
    check_capture_allowed(device)
    with transaction.atomic():
        if session_id is None:
            session = ClassSession.objects.create(
                classroom_id=device.classroom_id,
                participant_id=device.participant_id,
                device=device,
                title=title[:200],
                status=SessionStatus.RUNNING,
                started_at=timezone.now(),
            )
        else:
            session = join_session(device, session_id)
        ctx = AuditContext.system(device.organization, f"device {device.name}")
        record_audit(ctx, "capture.start", target=session, participant=device.participant)
    return session


def join_session(device: CaptureDevice, session_id: int) -> ClassSession:
    session = device_sessions(device).select_for_update().filter(pk=session_id).first()
    if session is None:
        raise SessionNotFoundError(f"Session {session_id} does not exist for this device.")
    if session.status == SessionStatus.ENDED:
        raise SessionStateError(f"Session {session_id} has already ended.")
    if session.status == SessionStatus.SCHEDULED:
        session.status = SessionStatus.RUNNING
        session.started_at = timezone.now()
        session.device = session.device or device
        session.save(update_fields=["status", "started_at", "device"])
    return session


def end_session(device: CaptureDevice, session_id: int) -> ClassSession:
    """End the device's session (idempotent for an already ended one)."""
    with transaction.atomic():
        session = device_sessions(device).select_for_update().filter(pk=session_id).first()
        if session is None:
            raise SessionNotFoundError(f"Session {session_id} does not exist for this device.")
        if session.status != SessionStatus.ENDED:
            session.status = SessionStatus.ENDED
            session.ended_at = timezone.now()
            session.save(update_fields=["status", "ended_at"])
            ctx = AuditContext.system(device.organization, f"device {device.name}")
            record_audit(ctx, "capture.end", target=session, participant=device.participant)
            # alerts schedules its rule evaluation from this (alerts.receivers).
            session_ended.send(sender=ClassSession, session=session)
    return session


def running_session(device: CaptureDevice, session_id: int) -> ClassSession:
    """The running session the device streams into; raises SessionNotFound/SessionState."""
    session = device_sessions(device).filter(pk=session_id).first()
    if session is None:
        raise SessionNotFoundError(f"Session {session_id} does not exist for this device.")
    if session.status != SessionStatus.RUNNING:
        raise SessionStateError(f"Session {session_id} is {session.status}, not running.")
    return session
