"""The container health probe answers on any host and over plain HTTP; nothing else does."""

from __future__ import annotations

from django.test import Client, override_settings

PRODUCTION_HOSTS = {"ALLOWED_HOSTS": ["wellbeing.example.org"], "SECURE_SSL_REDIRECT": True}


@override_settings(**PRODUCTION_HOSTS)
def test_probe_from_inside_the_container_is_answered() -> None:
    # given production hosts and HTTPS redirect, when docker's probe calls localhost over HTTP
    response = Client().get("/healthz", HTTP_HOST="localhost")
    # then it gets a plain 200 rather than 400 (unknown host) or 301 (HTTPS redirect)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@override_settings(**PRODUCTION_HOSTS)
def test_other_paths_still_validate_the_host(db: object) -> None:
    assert Client().get("/accounts/login/", HTTP_HOST="localhost").status_code == 400
    assert Client().post("/healthz", HTTP_HOST="localhost").status_code == 400
