"""Helpers shared by the route-walking security tests (authorization matrices, CSRF): every
route of the product from the URL resolver, and a route filled with given objects' ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

# set_password answers anyone holding an invitation link (tests/wellbeing/test_staff_*); the
# oidc_* routes are the sign-in through a school's provider, for callers not signed in yet
# (tests/wellbeing/test_oidc_sign_in.py); consent_answer is the e-mailed consent link,
# authenticated by its token (tests/consent/test_online_consent.py).
PUBLIC = {
    "healthz", "login", "logout", "retention", "set_password",
    "oidc_find", "oidc_start", "oidc_callback", "consent_answer",
}  # fmt: skip
# The family portal has its own sign-in (an e-mailed link, no staff account): its pages send
# callers without a portal session to /portal/, not to the staff login, and staff accounts are
# nobody there; tests/consent/test_portal_*.py check its access, across families and schools.
PORTAL_PREFIX = "portal/"
DEVICE_AUTH = {"ingest-session-start", "ingest-session-end", "ingest-frame", "ingest-frame-status"}


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(route, name) of every URL pattern under ``patterns``, routes prefixed as resolved."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name or ""


def routes() -> list[tuple[str, str]]:
    """The product's routes: all but the Django admin, format suffixes and PUBLIC ones."""
    found = []
    for route, name in walk(get_resolver().url_patterns):
        if route.startswith(("admin/", PORTAL_PREFIX)) or "format" in route or name in PUBLIC:
            continue
        found.append((route, name))
    return found


def concrete(route: str, ids: dict[str, Any]) -> str:
    """Fill a route's parameters with the objects in ``ids`` (kind -> primary key)."""
    path = route.replace("^", "").replace("$", "").replace("\\.", ".")
    kind = "alerts" if "alert" in path else path.split("/")[1] if path.startswith("api/") else ""
    pk = {
        "alerts": ids["alert"], "consents": ids["record"], "notices": ids["notice"],
        "classrooms": ids["classroom"], "devices": ids["device"], "sessions": ids["session"],
    }.get(kind, ids["participant"])  # fmt: skip
    if "alert-rules" in path:
        pk = ids["rule"]
    if path.startswith(("sessions/", "api/sessions/")):
        pk = ids["session"]
    if path.startswith("privacy/erasure/"):
        pk = ids["erasure"]
    if path.startswith("consent/") and "devices" in path:
        pk = ids["device"]
    if path.startswith(("staff/", "api/staff/")):
        pk = ids.get("staff", pk)
    path = re.sub(r"\(\?P<pk>[^)]*\)", str(pk), path)
    path = re.sub(r"\(\?P<action>[^)]*\)", "revoke", path)
    path = path.replace("<int:pk>", str(pk)).replace("<int:record_pk>", str(ids["record"]))
    path = path.replace("<int:session_id>", str(ids["session"]))
    path = path.replace("<slug:action>", "acknowledge").replace("<slug:kind>", "consent")
    path = path.replace("<uidb64>", "MQ").replace("<token>", "set-password")
    path = path.replace("<str:token>", "a-consent-link-token")
    return "/" + path
