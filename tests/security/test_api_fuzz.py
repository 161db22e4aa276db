"""Fuzz the REST API from its own OpenAPI schema with schemathesis against a live server.

Signed in as a school admin (the role that can call every operation), with CSRF headers so
unsafe methods reach the views. The only check: no response is a server error.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from capture.devices import create_device
from tests.factories import grant_consent, make_guardian, make_notice, make_participant
from wellbeing.actions import AuditContext
from wellbeing.models import Classroom, StaffMember

# The schemathesis CLI installed beside this interpreter (the `dev` extra).
ST = Path(sys.executable).with_name("st")


@pytest.fixture
def populated_school(admin: StaffMember, classroom: Classroom, counselor: StaffMember) -> None:
    make_notice(admin.organization)
    for name in ("Ana", "Ben", "Cy"):
        student = make_participant(admin.organization, name, classroom, counselor)
        grant_consent(student, make_guardian(student))
    create_device(AuditContext.system(admin.organization), "Cam", classroom=classroom)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the fuzzing subprocess has its own 900 s limit; ~5 min here
@pytest.mark.django_db(transaction=True)
def test_api_never_answers_500(
    live_server: Any, admin: StaffMember, populated_school: None, tmp_path: Path
) -> None:
    # given an admin session (cookie + CSRF token) and the API's own schema
    client = Client()
    client.force_login(admin.user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content
    (tmp_path / "schema.json").write_bytes(schema)
    csrf = "f" * 32
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies['sessionid'].value}; csrftoken={csrf}"
    report = tmp_path / "report.json"
    # when schemathesis generates requests for every operation
    result = subprocess.run(
        [
            str(ST),
            "run",
            str(tmp_path / "schema.json"),
            "--url",
            live_server.url,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "10",
            "--seed",
            "7",
            "-H",
            f"Cookie: {cookie}",
            "-H",
            f"X-CSRFToken: {csrf}",
            "-H",
            f"Referer: {live_server.url}/",
            "--request-timeout",
            "20",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    # then every generated case passed (no server error) across all operations
    summary = result.stdout[-2500:]
    print(summary)  # operations and case counts, for the record
    assert result.returncode == 0, summary + result.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 500
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested and int(tested.group(1)) == count_operations(json.loads(schema))


def count_operations(schema: dict[str, Any]) -> int:
    methods = {"get", "post", "put", "patch", "delete"}
    return sum(1 for item in schema["paths"].values() for method in item if method in methods)
