"""POST /api/roster-import/: preview, then confirm the reviewed preview; admins only."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import login
from tests.consent.roster_sets import USERS, oneroster, zipped
from wellbeing.models import AuditEvent, Classroom, Participant, StaffMember

URL = "/api/roster-import/"


def upload(files: dict[str, bytes], **fields: Any) -> dict[str, Any]:
    return {"files": [SimpleUploadedFile("export.zip", zipped(files))], **fields}


def test_an_admin_previews_then_imports(admin: StaffMember) -> None:
    client = login(admin)
    school = admin.organization
    # when the admin sends the set without confirm
    preview = client.post(URL, upload(oneroster()))
    # then the answer is the preview, and nothing is imported yet
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["counts"]["students"]["create"] == 2 and body["creates_consent"] is False
    assert not Participant.objects.filter(organization=school).exists()
    assert AuditEvent.objects.filter(organization=school, action="roster.preview").count() == 1
    # when they confirm it with its token
    done = client.post(URL, upload(oneroster(), confirm="true", reviewed=body["token"]))
    # then it is imported
    assert done.status_code == 201, done.content
    imported = Participant.objects.filter(organization=school).values_list("source_id", flat=True)
    assert sorted(imported) == ["stu-1", "stu-2"]


def test_a_confirmation_of_another_preview_imports_nothing(admin: StaffMember) -> None:
    client = login(admin)
    # given a preview, then a classroom of the same name typed in meanwhile
    token = client.post(URL, upload(oneroster())).json()["token"]
    Classroom.objects.create(organization=admin.organization, name="Art 7", source_id="x-art")
    # when confirmed / then 409 with the preview as it is now, and nothing imported
    answer = client.post(URL, upload(oneroster(), confirm="true", reviewed=token))
    assert answer.status_code == 409
    assert answer.json()["error"] == "confirmation_required"
    assert answer.json()["preview"]["errors"][0]["column"] == "title"
    assert not Participant.objects.filter(organization=admin.organization).exists()


def test_files_with_errors_are_answered_with_each_error(admin: StaffMember) -> None:
    client = login(admin)
    files = oneroster(users=USERS.replace("Anne@Example.org", "anne-at-example"))
    # when previewed / then the errors name file, line and column
    body = client.post(URL, upload(files)).json()
    assert body["errors"] == [
        {
            "file": "users.csv",
            "line": 4,
            "column": "email",
            "message": "'anne-at-example' is not an e-mail address.",
        }
    ]
    # when confirmed anyway / then 400 with the same errors, nothing imported
    answer = client.post(URL, upload(files, confirm="true", reviewed=body["token"]))
    assert answer.status_code == 400 and answer.json()["errors"] == body["errors"]
    assert not Participant.objects.filter(organization=admin.organization).exists()


def test_an_unreadable_upload_is_a_400(admin: StaffMember) -> None:
    picture = {"files": [SimpleUploadedFile("photo.png", b"\x89PNG....")]}
    answer = login(admin).post(URL, picture)
    assert answer.status_code == 400
    assert "neither a CSV file nor a zip" in answer.json()["detail"]


def test_only_admins_import(counselor: StaffMember, teacher: StaffMember) -> None:
    for staff in (counselor, teacher):
        assert login(staff).post(URL, upload(oneroster())).status_code == 403
    assert not Participant.objects.exists()
