"""The OpenAPI schema at /api/schema/ is valid and documents every API endpoint."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command
from django.test import Client
from drf_spectacular.validation import validate_schema

EXPECTED_PATHS = {
    "/api/participants/": {"get", "post"},
    "/api/participants/{id}/": {"get", "patch"},
    "/api/participants/{id}/guardians/": {"get", "post"},
    "/api/participants/{id}/consents/": {"get", "post"},
    "/api/participants/{id}/enroll/": {"post"},
    "/api/participants/{id}/caseload/": {"post"},
    "/api/consents/{id}/": {"get"},
    "/api/consents/{id}/withdraw/": {"post"},
    "/api/notices/": {"get", "post"},
    "/api/notices/{id}/": {"get"},
    "/api/classrooms/": {"get", "post"},
    "/api/classrooms/{id}/": {"get", "patch"},
    "/api/school/": {"get", "patch"},
    "/api/devices/": {"get", "post"},
    "/api/devices/{id}/": {"get"},
    "/api/devices/{id}/rotate/": {"post"},
    "/api/devices/{id}/revoke/": {"post"},
    "/api/staff/": {"get", "post"},
    "/api/staff/{id}/": {"get", "patch"},
    "/api/staff/{id}/deactivate/": {"post"},
    "/api/staff/{id}/reactivate/": {"post"},
    "/api/staff/{id}/invite/": {"post"},
    "/api/roster-import/": {"post"},
}


def test_schema_endpoint_serves_valid_openapi_with_every_endpoint(counselor: Any) -> None:
    # given the schema is for staff only
    assert Client().get("/api/schema/", {"format": "json"}).status_code == 403
    # when a staff member fetches it as JSON
    client = Client()
    client.force_login(counselor.user)
    response = client.get("/api/schema/", {"format": "json"})
    # then it is valid OpenAPI 3 and documents the API's paths and methods
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    # (other apps may add their own paths; these are the ones this API owns)
    api_paths = {path: set(ops) - {"parameters"} for path, ops in schema["paths"].items()}
    assert {p: api_paths.get(p) for p in EXPECTED_PATHS} == EXPECTED_PATHS
    # and the device token appears only in the issued-token response, never in Device
    assert "token" not in schema["components"]["schemas"]["Device"]["properties"]
    assert "token" in schema["components"]["schemas"]["IssuedToken"]["properties"]
    # and a classroom's face detector is documented with exactly its two choices
    schemas = schema["components"]["schemas"]
    for name in ("Classroom", "ClassroomWrite", "PatchedClassroomWrite"):
        assert "detector" in schemas[name]["properties"], name
    assert schemas["DetectorEnum"]["enum"] == ["rfb", "hog"]


def test_schema_generation_has_no_warnings() -> None:
    # when the schema is generated strictly, then no warning is raised (a warning fails it)
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())
