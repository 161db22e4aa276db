"""CSRF protection on every form and every state-changing route.

Walks the URL resolver (as the authorization matrix does), so a new page or endpoint is covered
without editing this test. Only the capture devices' ingest endpoints are exempt: they take a
bearer token, never a cookie, so a browser cannot be tricked into sending their credentials.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import Client

from tests.security.conftest import DEVICE_AUTH, concrete, walk
from wellbeing.models import StaffMember

IDS = dict.fromkeys(
    ("participant", "record", "notice", "classroom", "device", "session", "rule", "alert"), 1
) | {"erasure": 1}
POST = re.compile(r"""method\s*=\s*["']?post""", re.IGNORECASE)
FORM = re.compile(r"<form\b[^>]*>(.*?)</form>", re.DOTALL | re.IGNORECASE)


def _all_routes() -> list[tuple[str, str]]:
    from django.urls import get_resolver

    return [
        (route, name)
        for route, name in walk(get_resolver().url_patterns)
        if not route.startswith("admin/") and "format" not in route
    ]


def test_a_signed_in_post_without_token_is_refused_everywhere(admin: StaffMember) -> None:
    # given a signed-in admin whose browser does not send the CSRF token
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    refused = 0
    for route, name in _all_routes():
        if name in DEVICE_AUTH:
            continue
        url = concrete(route, IDS).replace("<slug:slug>", "any-school")
        assert "<" not in url and "(?P" not in url, f"{route}: extend concrete()"
        # when anything is posted to the route
        response = client.post(url, {"note": "x"})
        # then it is refused by the CSRF check (or the route accepts no POST at all)
        body = response.content.decode(errors="replace")
        assert response.status_code == 405 or (response.status_code == 403 and "CSRF" in body), (
            f"POST {route} -> {response.status_code}"
        )
        refused += response.status_code == 403
    assert refused >= 30


def test_only_the_token_authenticated_ingest_is_exempt(db: Any) -> None:
    # a POST with a session cookie but no bearer token gets nothing from the ingest endpoints
    exempt = [(route, name) for route, name in _all_routes() if name in DEVICE_AUTH]
    assert {name for _, name in exempt} == DEVICE_AUTH
    for route, _name in exempt:
        response = Client(enforce_csrf_checks=True).post(concrete(route, IDS))
        assert response.status_code in {400, 401, 403}, route


def test_every_post_form_carries_the_csrf_token() -> None:
    templates = [
        path
        for path in Path(settings.BASE_DIR).glob("*/templates/**/*.html")
        if ".venv" not in path.parts
    ]
    assert templates
    missing = []
    for path in templates:
        text = path.read_text()
        for match in FORM.finditer(text):
            opening = match.group(0)[: match.group(0).index(">") + 1].lower()
            if POST.search(opening) and "{% csrf_token %}" not in match.group(1):
                missing.append(f"{path.relative_to(settings.BASE_DIR)}: {opening}")
    assert missing == []
