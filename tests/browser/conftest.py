"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, with our CSP enforced.

Browsers are never downloaded: without /usr/bin/chromium (``apt-get install chromium``) or the
playwright package every browser test is skipped with the reason. Each page is served with a
Content-Security-Policy without 'unsafe-inline' added on the way to the browser, and any CSP
violation, console error or uncaught exception fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from tests.conftest import database_url
from tests.factories import make_staff
from tests.local_services import free_port, port_answers
from tests.wellbeing.oidc_issuer import LocalIssuer, configure_for, running_issuer
from wellbeing.actions import AuditContext
from wellbeing.actions.two_factor import update_two_factor_policy
from wellbeing.models import Organization, Role, StaffMember

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Pages fulfilled through page.route have no address space, so Chromium's Local Network
    # Access checks would block their WebSocket to 127.0.0.1.
    "--disable-features=LocalNetworkAccessChecks",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = "no /usr/bin/chromium (apt-get install chromium) for the browser tests"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is not installed"
    for item in items:
        if reason and "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module.

    Playwright's sync API runs an event loop in this thread while it is open, so it is closed
    after each module (later tests use async_to_sync), and Django is told that the ORM calls the
    test bodies make between browser steps are synchronous and safe, for this module only.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PageProblems:
    """Console errors, uncaught exceptions and CSP violations seen by a page."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.messages.append(f"console {message.type}: {message.text}")

    def error(self, error: Any) -> None:
        self.messages.append(f"page error: {error}")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context whose responses carry our CSP; fails on any page problem."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def add_csp(route: Any) -> None:
        # Redirects must reach the browser (so its URL follows them), not be followed here.
        response = route.fetch(max_redirects=0)
        headers = {**response.headers, "content-security-policy": CSP}
        route.fulfill(response=response, headers=headers)

    context.route("**/*", add_csp)
    page = context.new_page()
    problems = PageProblems()
    page.on("console", problems.console)
    page.on("pageerror", problems.error)
    yield page
    context.close()
    assert problems.messages == []


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button, form input[type=submit]")
    page.wait_for_load_state("load")


def painted_pixels(page: Any, canvas_id: str) -> int:
    """How many pixels of the canvas are not transparent (0 for an empty chart)."""
    return int(
        page.evaluate(
            """(id) => {
                const c = document.getElementById(id);
                const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                return n;
            }""",
            canvas_id,
        )
    )


def clean_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)


# Per dataset: how many of its elements Chart.js actually placed on the canvas (bars with a
# height, points with a radius), and the line's segments (a gap splits a line in two).
READ_BACK = """(id) => {
  const chart = Chart.getChart(document.getElementById(id));
  return chart.data.datasets.map((dataset, i) => {
    const meta = chart.getDatasetMeta(i);
    const drawn = meta.data.filter((el) => {
      if (el.skip || !Number.isFinite(el.x) || !Number.isFinite(el.y)) return false;
      if (meta.type === "bar") return Math.abs(el.base - el.y) >= 1;
      return el.options.radius > 0;
    });
    return {
      label: dataset.label,
      drawn: drawn.length,
      indexes: meta.data.map((el, j) => (drawn.includes(el) ? j : -1)).filter((j) => j >= 0),
      segments: meta.dataset ? meta.dataset.segments.length : null,
    };
  });
}"""


def read_back(page: Any, canvas_id: str) -> list[dict[str, Any]]:
    return list(page.evaluate(READ_BACK, canvas_id))


def serve_with_daphne(tmp_path: Path, settings_module: str) -> Iterator[str]:
    """daphne serving the project (HTTP + WebSocket) on the test database with
    ``settings_module``; yields its URL and stops it afterwards."""
    static_root = tmp_path / "static"
    with override_settings(STATIC_ROOT=static_root):
        call_command("collectstatic", interactive=False, verbosity=0)
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "STATIC_ROOT": str(static_root),
        # No persistent connections: the test database must be droppable at teardown.
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    log = (tmp_path / "daphne.log").open("w")
    cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*cmd, "wellbeing.asgi:application"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while not port_answers("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    """The test OpenID Connect provider (tests/wellbeing/oidc_issuer.py) on 127.0.0.1."""
    with running_issuer() as provider:
        yield provider


@pytest.fixture
def dana(school: Organization, issuer: LocalIssuer, settings: Any) -> StaffMember:
    """A counselor of a school that signs staff in through the test provider (plain http)."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    configure_for(school, issuer)
    member = make_staff(school, Role.COUNSELOR, "dana")
    update_two_factor_policy(AuditContext.system(school), roles=[Role.COUNSELOR], grace_days=0)
    # The school requires two-factor of counselors; the provider says it used two factors
    # (amr "mfa"), which stands for it (docs/sign-in.md, "Two-factor").
    issuer.user = {
        "sub": "dana-at-idp",
        "email": "dana@example.org",
        "email_verified": True,
        "amr": ["pwd", "mfa"],
    }
    return member
