"""Consent collected online: links, class requests, answers through the rules, reminders, audit."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from consent.models import ALL_SCOPES, ConsentRequest, GivenBy
from consent.online_consent import (
    LinkUnusable,
    answer_consent_request,
    hash_token,
    request_for_token,
    send_consent_reminders,
    send_consent_requests,
)
from consent.rules import consent_state
from tests.conftest import login
from tests.factories import grant_consent, make_guardian, make_participant
from wellbeing.actions import AuditContext
from wellbeing.models import AuditEvent, Classroom, Guardian, Organization, Participant, StaffMember

LINK_RATE_KEY = "consent-link-rate:127.0.0.1"  # consent.request_views._over_rate's, for the client
GRANT_ALL = {scope: "grant" for scope in ALL_SCOPES}
REFUSE_ALL = {scope: "refuse" for scope in ALL_SCOPES}


@pytest.fixture(autouse=True)
def fresh_link_rate() -> Any:
    """The link pages' rate counter lives in the real cache (Redis): start each test at zero."""
    cache.delete(LINK_RATE_KEY)
    yield
    cache.delete(LINK_RATE_KEY)


def token_in(message: Any) -> str:
    match = re.search(r"/consent/answer/([^/\s]+)/", message.body)
    assert match, message.body
    return match.group(1)


def send_one(
    admin: StaffMember, participant: Participant, student_email: str = ""
) -> list[ConsentRequest]:
    emails = {participant.pk: student_email} if student_email else None
    report = send_consent_requests(
        AuditContext.system(admin.organization), [participant], sent_by=admin,
        student_emails=emails,
    )  # fmt: skip
    return report.sent


@pytest.mark.django_db(transaction=True)
def test_the_link_token_is_stored_only_as_a_hash_and_works_once(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a request e-mailed to the guardian
    [sent] = send_one(admin, student)
    token = token_in(mail.outbox[-1])
    # then only the token's hash is stored, and the link finds the request
    assert sent.token_hash == hash_token(token) and token not in sent.token_hash
    assert request_for_token(token).pk == sent.pk
    # when the guardian answers, a second use of the link is refused
    ctx = AuditContext.system(admin.organization, "guardian")
    answer_consent_request(ctx, token, GRANT_ALL, notice.version)
    with pytest.raises(LinkUnusable) as used:
        request_for_token(token)
    assert used.value.reason == "answered"


@pytest.mark.django_db(transaction=True)
def test_an_expired_or_superseded_link_is_refused_with_its_reason(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any, client: Client
) -> None:
    # given a first link and a second one sent later to the same guardian
    send_one(admin, student)
    first = token_in(mail.outbox[-1])
    send_one(admin, student)
    second = token_in(mail.outbox[-1])
    # then the first is superseded, its page says so, and the second expires after its days
    with pytest.raises(LinkUnusable) as superseded:
        request_for_token(first)
    assert superseded.value.reason == "superseded"
    page = client.get(f"/consent/answer/{first}/")
    assert page.status_code == 410 and b"A newer link was sent" in page.content
    later = timezone.now() + dt.timedelta(days=15)
    with pytest.raises(LinkUnusable) as expired:
        request_for_token(second, now=later)
    assert expired.value.reason == "expired"
    assert client.get("/consent/answer/not-a-token/").status_code == 410


@pytest.mark.django_db(transaction=True)
def test_a_class_request_asks_each_guardian_with_an_address(
    admin: StaffMember, school: Organization, classroom: Classroom, notice: Any
) -> None:
    # given a class of two students: one with two guardians (one without an address), one with
    # one guardian, and a student of another class
    ada = make_participant(school, "Ada", classroom=classroom)
    make_guardian(ada, "Ada's mother")
    Guardian.objects.create(participant=ada, name="Ada's father", relation="father")
    bo = make_participant(school, "Bo", classroom=classroom)
    make_guardian(bo, "Bo's father")
    make_guardian(make_participant(school, "Cy"), "Cy's mother")
    # when the admin e-mails the class
    response = login(admin).post(f"/consent/requests/class/{classroom.pk}/send/")
    # then one request per guardian with an address of the class, none to students
    assert response.status_code == 302
    requests = ConsentRequest.objects.all()
    assert sorted(r.guardian.name for r in requests if r.guardian) == [
        "Ada's mother",
        "Bo's father",
    ]
    assert {r.signer for r in requests} == {GivenBy.GUARDIAN}
    assert len(mail.outbox) == 2


def test_a_student_is_asked_only_when_the_rules_let_their_grant_count(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a UK school (own grant counts from 13) and a student of unknown age
    # when staff ask with the student's address, only the guardian is asked
    assert [r.signer for r in send_one(admin, student, "alex@example.org")] == ["guardian"]
    # when the student is 15, they are asked as well
    student.date_of_birth = student.organization.local_today() - dt.timedelta(days=15 * 366)
    student.save()
    signers = sorted(r.signer for r in send_one(admin, student, "alex@example.org"))
    assert signers == ["guardian", "student"]


@pytest.mark.django_db(transaction=True)
def test_a_guardian_grant_through_the_link_activates_processing(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any, client: Client
) -> None:
    # given a request e-mailed to the guardian
    send_one(admin, student)
    token = token_in(mail.outbox[-1])
    # when the guardian opens the link and grants both scopes
    page = client.get(f"/consent/answer/{token}/")
    assert page.status_code == 200 and notice.title.encode() in page.content
    assert b"raw_observation" not in page.content and b"days" in page.content
    data = {"notice_version": notice.version, **GRANT_ALL}
    done = client.post(f"/consent/answer/{token}/", data)
    # then both scopes are active, recorded as the guardian's under the current notice
    assert done.status_code == 200 and b"your answer is recorded" in done.content
    assert consent_state(student, ALL_SCOPES).active_scopes == set(ALL_SCOPES)
    record = student.consent_records.get()
    assert (record.given_by, record.guardian, record.notice) == ("guardian", guardian, notice)


@pytest.mark.django_db(transaction=True)
def test_a_student_above_the_age_refusing_wins_over_a_guardian_grant(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any, client: Client
) -> None:
    # given a 15-year-old whose guardian granted both scopes
    student.date_of_birth = student.organization.local_today() - dt.timedelta(days=15 * 366)
    student.save()
    grant_consent(student, guardian)
    assert consent_state(student, ALL_SCOPES).allows(*ALL_SCOPES)
    # when the student refuses through their own link
    send_one(admin, student, "alex@example.org")
    student_mail = next(m for m in mail.outbox if m.to == ["alex@example.org"])
    data = {"notice_version": notice.version, **REFUSE_ALL}
    client.post(f"/consent/answer/{token_in(student_mail)}/", data)
    # then nothing is active any more: the student's refusal wins
    state = consent_state(student, ALL_SCOPES)
    assert state.active_scopes == frozenset()
    assert "objection on record (the student themself)" in state.reasons.values()


@pytest.mark.django_db(transaction=True)
def test_an_answer_to_a_notice_changed_meanwhile_records_nothing(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any
) -> None:
    # given a link opened under notice version 1
    send_one(admin, student)
    token = token_in(mail.outbox[-1])
    # when the answer names another version than the current one
    with pytest.raises(Exception, match="changed its notice"):
        answer_consent_request(
            AuditContext.system(admin.organization), token, GRANT_ALL, notice.version + 1
        )
    # then nothing was recorded and the link still works
    assert not student.consent_records.exists()
    assert request_for_token(token)


@pytest.mark.django_db(transaction=True)
def test_reminders_go_only_to_unanswered_requests_at_most_once_per_interval(
    admin: StaffMember, school: Organization, classroom: Classroom, notice: Any, settings: Any
) -> None:
    # given two guardians asked six days ago, one of whom answered
    settings.CONSENT_REMINDER_INTERVAL_DAYS = 5
    quiet, answering = (make_participant(school, n, classroom=classroom) for n in ("Q", "A"))
    make_guardian(quiet, "Quiet parent")
    make_guardian(answering, "Answering parent")
    send_consent_requests(AuditContext.system(school), [quiet, answering], sent_by=admin)
    answer_token = token_in(mail.outbox[-1])
    answer_consent_request(AuditContext.system(school), answer_token, GRANT_ALL, notice.version)
    ConsentRequest.objects.update(sent_at=timezone.now() - dt.timedelta(days=6))
    mail.outbox.clear()
    # when reminders run twice the same day
    first, second = send_consent_reminders(), send_consent_reminders()
    # then only the unanswered guardian gets one reminder, with a fresh link
    assert (first, second) == (1, 0)
    assert [m.to for m in mail.outbox] == [["parent@example.org"]]
    assert "Reminder" in mail.outbox[0].body
    live = ConsentRequest.objects.unanswered().get()
    assert live.guardian is not None
    assert (live.guardian.name, live.reminders_sent) == ("Quiet parent", 1)


@pytest.mark.django_db(transaction=True)
def test_sending_opening_answering_and_reminding_are_audited(
    admin: StaffMember, student: Participant, guardian: Guardian, notice: Any, client: Client
) -> None:
    # given a request, opened and answered through the link, and a reminder for a second one
    send_one(admin, student)
    token = token_in(mail.outbox[-1])
    client.get(f"/consent/answer/{token}/")
    client.post(f"/consent/answer/{token}/", {"notice_version": notice.version, **GRANT_ALL})
    other = make_guardian(student, "Second parent")
    send_one(admin, student)
    ConsentRequest.objects.filter(guardian=other).update(sent_at=timezone.now() - dt.timedelta(30))
    send_consent_reminders()
    # then each step wrote its audit event about the student
    actions = list(
        AuditEvent.objects.filter(participant_pseudonym=student.pseudonym).values_list(
            "action", flat=True
        )
    )
    for action in ("send", "open", "answer", "remind"):
        assert f"consent_request.{action}" in actions
    assert "consent.grant" in actions


def test_the_class_view_shows_who_answered_what_to_admins_only(
    admin: StaffMember, counselor: StaffMember, student: Participant, guardian: Guardian,
    classroom: Classroom, notice: Any,
) -> None:  # fmt: skip
    # given a request sent to the guardian, not answered yet
    send_one(admin, student)
    # when the admin opens the class view
    page = login(admin).get(f"/consent/requests/class/{classroom.pk}/")
    # then the guardian's request shows as unanswered; a counselor may not see the page
    assert page.status_code == 200
    assert b"status-no-answer" in page.content and b"Sam Parent" in page.content
    assert login(counselor).get(f"/consent/requests/class/{classroom.pk}/").status_code == 403


def test_the_public_link_pages_are_rate_limited(
    client: Client, settings: Any, school: Organization
) -> None:
    # given a limit of three requests per address
    settings.CONSENT_LINK_RATE_LIMIT = 3
    # when a fourth link is tried from the same address
    codes = [client.get(f"/consent/answer/guess-{n}/").status_code for n in range(4)]
    # then it is refused with 429
    assert codes == [410, 410, 410, 429]
