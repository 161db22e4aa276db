"""The roster import pages: preview, confirm, the template download, who may use them, and a
preview form that was tampered with or is another admin's (consent.roster_views)."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.conftest import login
from tests.consent.roster_sets import oneroster, zipped
from tests.factories import make_staff
from wellbeing.models import AuditEvent, Participant, Role, StaffMember

HIDDEN = re.compile(r'name="(upload|reviewed)" value="([^"]*)"')


def preview(client: Client, files: dict[str, bytes]) -> dict[str, str]:
    """Upload the files; the hidden fields of the preview's confirmation form."""
    upload = SimpleUploadedFile("oneroster.zip", zipped(files))
    response = client.post("/consent/roster/", {"roster": [upload]})
    assert response.status_code == 200
    return dict(HIDDEN.findall(response.content.decode()))


def test_the_confirmation_imports_what_was_previewed(admin: StaffMember) -> None:
    client = login(admin)
    # given a preview
    fields = preview(client, oneroster())
    assert not Participant.objects.filter(organization=admin.organization).exists()
    # when the admin confirms it
    response = client.post("/consent/roster/confirm/", fields)
    # then the students are imported, and the admin is sent to the participants list
    assert response.status_code == 302 and response["Location"] == "/consent/participants/"
    assert Participant.objects.filter(organization=admin.organization).count() == 2
    school = admin.organization
    actions = AuditEvent.objects.filter(organization=school, action__startswith="roster.")
    assert sorted(actions.values_list("action", flat=True)) == ["roster.import", "roster.preview"]


def test_a_tampered_or_foreign_preview_imports_nothing(admin: StaffMember) -> None:
    # given a preview of one admin
    fields = preview(login(admin), oneroster())
    other_admin = make_staff(admin.organization, Role.ADMIN, "second_admin")
    # when the upload is altered, or another admin posts it
    altered = {**fields, "upload": fields["upload"][:-3] + "AAA"}
    for client, form in ((login(admin), altered), (login(other_admin), fields)):
        response = client.post("/consent/roster/confirm/", form, follow=True)
        # then nothing is imported, and the admin is asked to upload again
        assert "upload the files again" in response.content.decode()
    assert not Participant.objects.filter(organization=admin.organization).exists()


def test_the_template_downloads_as_csv(admin: StaffMember) -> None:
    response = login(admin).get("/consent/roster/template.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode().startswith("student_id,full_name,grade,date_of_birth")


def test_an_unreadable_upload_says_why(admin: StaffMember) -> None:
    picture = SimpleUploadedFile("photo.png", b"\x89PNG....")
    response = login(admin).post("/consent/roster/", {"roster": [picture]})
    assert "neither a CSV file nor a zip" in response.content.decode()


def test_only_admins_reach_the_pages(counselor: StaffMember, teacher: StaffMember) -> None:
    for staff in (counselor, teacher):
        client = login(staff)
        for url in ("/consent/roster/", "/consent/roster/template.csv"):
            assert client.get(url).status_code == 403
        assert client.post("/consent/roster/confirm/", {}).status_code == 403
