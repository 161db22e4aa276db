"""Shared helpers of the staff-management tests: the invitation link and a state snapshot."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from django.core import mail

from wellbeing.models import AuditEvent, CaseloadAssignment, Classroom, StaffMember

LINK = re.compile(r"https?://\S+/accounts/set-password/\S+/")


def invitation_link(to: str) -> str:
    """The set-password link of the last e-mail sent to ``to`` (as a path)."""
    sent = [m for m in mail.outbox if m.to == [to]]
    assert sent, f"no e-mail to {to}"
    found = LINK.search(str(sent[-1].body))
    assert found, sent[-1].body
    return "/" + found.group(0).split("/", 3)[3]


def staff_state() -> tuple[Any, ...]:
    """Everything staff management can change, to prove a refused request changed nothing."""
    return (
        sorted(User.objects.values_list("pk", "username", "email", "is_active", "password")),
        sorted(StaffMember.objects.values_list("pk", "organization_id", "role")),
        sorted(CaseloadAssignment.objects.values_list("pk", "counselor_id", "participant_id")),
        sorted(Classroom.teachers.through.objects.values_list("classroom_id", "staffmember_id")),
        AuditEvent.objects.count(),
        len(mail.outbox),
    )
