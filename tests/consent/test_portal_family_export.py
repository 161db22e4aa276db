"""The family's export (GDPR Art. 15): the student's own data, the holder's own guardian record
and who accessed the record, but no other person's personal data: not a co-guardian's e-mail
address or phone, not their address in consent requests and evidence, not the network
addresses and browsers of the staff who looked. The school admins' export keeps everything."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from consent.models import ALL_SCOPES
from consent.online_consent import send_consent_requests
from tests.consent.conftest import portal_client
from wellbeing.actions import AuditContext
from wellbeing.models import Guardian, Participant, StaffMember

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lenient_portal_rates"),
]

STAFF_IP, STAFF_BROWSER = "10.0.0.7", "StaffBrowser/1.0"
KIM_EMAIL, KIM_PHONE = "kim@example.org", "+44 20 7946 0999"


@pytest.fixture
def history(admin: StaffMember, student: Participant, guardian: Guardian, notice: Any) -> Guardian:
    """Sam (``guardian``, parent@example.org) and co-guardian Kim, both asked for consent by
    e-mail; Kim granted through her link; an admin opened the student's page. Returns Kim."""
    guardian.phone = "+44 20 7946 0111"
    guardian.save()
    kim = Guardian.objects.create(
        participant=student, name="Kim Coparent", relation="mother", email=KIM_EMAIL,
        phone=KIM_PHONE,
    )  # fmt: skip
    send_consent_requests(AuditContext.system(admin.organization), [student], sent_by=admin)
    kim_mail = next(m for m in mail.outbox if m.to == [KIM_EMAIL])
    token = re.search(r"/consent/answer/([^/\s]+)/", str(kim_mail.body))
    assert token
    answer = {"notice_version": notice.version, **dict.fromkeys(ALL_SCOPES, "grant")}
    assert Client().post(f"/consent/answer/{token.group(1)}/", answer).status_code == 200
    staff_browser = Client(REMOTE_ADDR=STAFF_IP, HTTP_USER_AGENT=STAFF_BROWSER)
    staff_browser.force_login(admin.user)
    assert staff_browser.get(f"/consent/participants/{student.pk}/").status_code == 200
    return kim


def test_a_guardian_gets_the_students_data_without_other_peoples(
    admin: StaffMember, student: Participant, guardian: Guardian, history: Guardian
) -> None:
    # given the history above; when Sam downloads the export in the portal, as JSON and CSV
    portal = portal_client("parent@example.org")
    response = portal.get(f"/portal/students/{student.pk}/export/")
    data = json.loads(response.content)
    csv_zip = zipfile.ZipFile(
        io.BytesIO(portal.get(f"/portal/students/{student.pk}/export/?format=csv").content)
    )
    csv_text = "".join(csv_zip.read(name).decode() for name in csv_zip.namelist())
    # then the student's record, Sam's own guardian record and the consent history are there
    assert data["participant"]["full_name"] == "Alex Student"
    sam, kim = sorted(data["wellbeing.guardian"], key=lambda g: g["id"])
    assert (sam["email"], sam["phone"]) == ("parent@example.org", "+44 20 7946 0111")
    assert len(data["consent.consentrecord"]) == 1
    assert len(data["consent.consentrequest"]) == 2
    # and Kim is named as a guardian, but her address and phone are nowhere, in either format
    assert (kim["name"], kim["relation"]) == ("Kim Coparent", "mother")
    assert kim["email"] == kim["phone"] == "(withheld: another person's data)"
    for text in (response.content.decode(), csv_text):
        assert KIM_EMAIL not in text and KIM_PHONE not in text
        # and nor are the staff's network address and browser
        assert STAFF_IP not in text and STAFF_BROWSER not in text
    # and the access log still says who opened the record and when (the recipients)
    views = [e for e in data["access_log"] if e["action"] == "participant.view"]
    assert views and views[0]["actor_label"] == "admin (admin)" and views[0]["created_at"]
    assert not {"ip_address", "user_agent", "actor_id"} & set(views[0])
    assert "Art. 15(4)" in data["about_this_export"]["note"]
    assert "about_this_export.csv" in csv_zip.namelist()


def test_the_school_admins_export_keeps_everything(
    admin: StaffMember, student: Participant, history: Guardian
) -> None:
    # when an admin exports the same student
    client = Client()
    client.force_login(admin.user)
    text = client.get(f"/privacy/participants/{student.pk}/export/").content.decode()
    # then the co-guardian's contacts and the staff's network address are in it
    assert KIM_EMAIL in text and KIM_PHONE in text and STAFF_IP in text
    assert "about_this_export" not in text


def test_a_student_gets_their_own_address_and_no_guardians_contacts(
    student: Participant, history: Guardian
) -> None:
    # given a 15-year-old with their own address, signed in to the portal as themself
    today = student.organization.local_today()
    student.email, student.date_of_birth = (
        "alex@students.example",
        today.replace(year=today.year - 15),
    )
    student.save()
    portal = portal_client("alex@students.example")
    # when they download their export
    data = json.loads(portal.get(f"/portal/students/{student.pk}/export/").content)
    # then their own address is there, and neither guardian's contacts
    assert data["participant"]["email"] == "alex@students.example"
    withheld = "(withheld: another person's data)"
    assert all(g["email"] == g["phone"] == withheld for g in data["wellbeing.guardian"])
    assert {r["email"] for r in data["consent.consentrequest"]} == {withheld}
