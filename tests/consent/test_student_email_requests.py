"""The student's own address on record: class consent requests reach the students of the class
who are old enough to decide and have one, as well as their guardians."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail

from consent.models import ConsentRequest, GivenBy
from tests.conftest import login
from tests.factories import make_guardian, make_participant
from wellbeing.models import AuditEvent, Classroom, Organization, Participant, StaffMember


def aged(participant: Participant, years: int, email: str) -> Participant:
    today = participant.organization.local_today()
    participant.date_of_birth = today - dt.timedelta(days=years * 366)
    participant.email = email
    participant.save()
    return participant


@pytest.mark.django_db(transaction=True)
def test_a_class_request_asks_students_old_enough_with_an_address(
    admin: StaffMember, school: Organization, classroom: Classroom, notice: Any
) -> None:
    # given a UK school (a student's own grant counts from 13) and a class of: a 15-year-old
    # with an address, an 11-year-old with an address, a 15-year-old without one
    old = aged(make_participant(school, "Olu", classroom=classroom), 15, "olu@students.example")
    make_guardian(old, "Olu's mother")
    aged(make_participant(school, "Yan", classroom=classroom), 11, "yan@students.example")
    aged(make_participant(school, "Zed", classroom=classroom), 15, "")
    # when the admin e-mails the class
    response = login(admin).post(f"/consent/requests/class/{classroom.pk}/send/", follow=True)
    # then the guardian and the old-enough student with an address are asked, nobody else
    assert response.status_code == 200
    asked = sorted((r.signer, r.email) for r in ConsentRequest.objects.all())
    assert asked == [("guardian", "parent@example.org"), ("student", "olu@students.example")]
    assert sorted(m.to[0] for m in mail.outbox) == ["olu@students.example", "parent@example.org"]
    # and the younger student is named as not asked, with the reason
    assert "Yan: below the age to decide alone" in response.content.decode()
    assert ConsentRequest.objects.filter(signer=GivenBy.STUDENT).count() == 1


def test_staff_record_the_students_address_on_the_participant_page(
    admin: StaffMember, student: Participant
) -> None:
    # when an admin saves the student's address on the student's page
    response = login(admin).post(
        f"/consent/participants/{student.pk}/email/", {"email": " alex@students.example "}
    )
    # then it is on the student's record, and the change is audited
    assert response.status_code == 302
    student.refresh_from_db()
    assert student.email == "alex@students.example"
    event = AuditEvent.objects.get(action="participant.update")
    assert event.detail["fields"] == ["email"]
    assert "alex@students.example" in login(admin).get(f"/consent/participants/{student.pk}/")\
        .content.decode()  # fmt: skip


def test_a_request_page_address_overrides_the_one_on_record(
    admin: StaffMember, student: Participant, notice: Any
) -> None:
    # given a 15-year-old with an address on record
    aged(student, 15, "alex@students.example")
    # when the admin asks them at another address on their request page
    login(admin).post(
        f"/consent/participants/{student.pk}/request/", {"student_email": "alex@home.example"}
    )
    # then the request goes to that address, and the record keeps its own
    assert ConsentRequest.objects.get(signer=GivenBy.STUDENT).email == "alex@home.example"
    student.refresh_from_db()
    assert student.email == "alex@students.example"
