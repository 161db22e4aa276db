"""deploy/Caddyfile in front of daphne with the .env.example settings, as compose runs them.

Docker does not run here, so the proxy is Debian's ``caddy`` (2.6; the image's is newer) on
free ports, forwarding to a daphne started with the web service's own command line; the only
changes to deploy/Caddyfile are the upstream address and the ports. It checks what a browser
needs from the stack: a certificate from Caddy's local CA, HTTP redirected to HTTPS, and a
sign-in with secure cookies and CSRF checks passing behind the proxy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from axes.models import AccessAttempt
from django.db import connection

from bench.localstack import free_port, stop_process, wait_for_port
from tests.wellbeing.compose_files import command_words, env_example, services

CADDY = shutil.which("caddy")
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "lantern-orchard-71"
SCHOOL = [
    "--name=Hilltop Academy",
    "--jurisdiction=uk",
    "--timezone=Europe/London",
    "--admin-email=head@hilltop.example",
    "--admin-name=Ada Head",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CADDY is None, reason="no caddy here (apt-get install caddy; .ci/run does)"),
]


@dataclass
class Proxied:
    web_env: dict[str, str]
    base: str
    http_base: str
    root_certificate: Path


def _caddyfile(folder: Path, web_port: int, http_port: int, https_port: int) -> Path:
    """deploy/Caddyfile with local ports, no admin API and no change to the system's trust."""
    text = (ROOT / "deploy/Caddyfile").read_text()
    assert "reverse_proxy web:8000" in text and "\n:8025 {" in text
    text = text.replace("web:8000", f"127.0.0.1:{web_port}")
    text = text.replace("\n:8025 {", f"\n:{free_port()} {{")
    options = f"admin off\n\thttp_port {http_port}\n\thttps_port {https_port}\n\tskip_install_trust"
    path = folder / "Caddyfile"
    path.write_text(f"{{\n\t{options}\n}}\n\n{text}")
    return path


def _web_command(port: int) -> list[str]:
    words = command_words(services()["web"])
    words[words.index("-b") + 1], words[words.index("-p") + 1] = "127.0.0.1", str(port)
    return [str(Path(sys.executable).with_name(words[0])), *words[1:]]


def _web_env(static_root: Path) -> dict[str, str]:
    db = connection.settings_dict  # the test database, which this test commits to
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {"PATH": os.environ["PATH"], **env_example(), "DATABASE_URL": url}
    env.pop("REDIS_URL")  # the stack's `redis` host; the sign-in pages need no broker
    env["STATIC_ROOT"] = str(static_root)
    return env


def _browser(proxied: Proxied) -> requests.Session:
    """A client that trusts Caddy's local CA, as a browser told to trust it would."""
    browser = requests.Session()
    browser.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`; no proxies either
    browser.verify = str(proxied.root_certificate)
    return browser


def _wait_for_certificate(url: str, root: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with requests.Session() as client:
                client.trust_env = False
                client.get(url, verify=str(root), timeout=5)
            return
        except (requests.exceptions.SSLError, requests.exceptions.ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """collectstatic, as the image's build step runs it (production storage: hashed names)."""
    folder = tmp_path_factory.mktemp("static")
    env = {**_web_env(folder), "DATABASE_URL": "sqlite:////nonexistent/unused.sqlite3"}
    collect = [sys.executable, "manage.py", "collectstatic", "--noinput"]
    done = subprocess.run(collect, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


@pytest.fixture
def proxied(tmp_path: Path, static_root: Path) -> Iterator[Proxied]:
    web_port, http_port, https_port = free_port(), free_port(), free_port()
    log = (tmp_path / "stack.log").open("ab")
    env = _web_env(static_root)
    # Each in its own process group, which stop_process signals.
    web = subprocess.Popen(
        _web_command(web_port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    caddy_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SITE_ADDRESS": env_example()["SITE_ADDRESS"],
        "CADDY_TLS": env_example()["CADDY_TLS"],
    }
    config = _caddyfile(tmp_path, web_port, http_port, https_port)
    caddy = subprocess.Popen(
        [str(CADDY), "run", "--config", str(config), "--adapter", "caddyfile"],
        env=caddy_env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_for_port(web_port, 60, "daphne", web)
        wait_for_port(https_port, 30, "caddy", caddy)
        root = tmp_path / "data/caddy/pki/authorities/local/root.crt"
        base = f"https://localhost:{https_port}"
        _wait_for_certificate(f"{base}/healthz", root)
        yield Proxied(env, base, f"http://localhost:{http_port}", root)
    finally:
        stop_process(caddy)
        stop_process(web)


def test_proxy_serves_the_site_over_https_and_a_school_admin_signs_in(proxied: Proxied) -> None:
    # given a school set up with `manage.py create_school` in the web service's environment
    created = subprocess.run(
        [sys.executable, "manage.py", "create_school", *SCHOOL],
        cwd=ROOT,
        env={**proxied.web_env, "SCHOOL_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Created school admin head@hilltop.example." in created.stdout, created.stderr
    assert "Sign in at https://localhost/accounts/login/" in created.stdout
    browser = _browser(proxied)
    # when a browser asks for plain HTTP / then the proxy sends it to HTTPS
    plain = browser.get(f"{proxied.http_base}/accounts/login/", allow_redirects=False, timeout=10)
    assert plain.status_code in (301, 308)
    # (to port 443, which compose publishes; this test's proxy listens elsewhere)
    assert plain.headers["Location"] == "https://localhost/accounts/login/"
    # when it opens the sign-in page over HTTPS / then Django knows the request is secure (no
    # redirect of its own) and sets a secure CSRF cookie
    page = browser.get(f"{proxied.base}/accounts/login/", timeout=10)
    assert page.status_code == 200 and page.url == f"{proxied.base}/accounts/login/"
    csrf = next(cookie for cookie in browser.cookies if cookie.name == "csrftoken")
    assert csrf.secure
    # when the admin signs in / then the CSRF check passes and the session cookie is secure
    signed_in = browser.post(
        f"{proxied.base}/accounts/login/",
        data={
            "username": "head@hilltop.example",
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf.value,
        },
        headers={"Referer": f"{proxied.base}/accounts/login/", "Origin": proxied.base},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, signed_in.text[-500:]
    assert next(c for c in browser.cookies if c.name == "sessionid").secure
    home = browser.get(f"{proxied.base}/", timeout=10)
    assert home.status_code == 200 and "head@hilltop.example · School admin" in home.text
    # and the trial's .env asks no browser to remember HTTPS-only for localhost (HSTS)
    assert "strict-transport-security" not in {name.lower() for name in home.headers}


def test_a_client_cannot_forge_its_address_through_the_proxy(proxied: Proxied) -> None:
    # given daphne takes the client address from X-Forwarded-For (--proxy-headers)
    browser = _browser(proxied)
    browser.get(f"{proxied.base}/accounts/login/", timeout=10)
    token = browser.cookies["csrftoken"]
    # when a client sends a forged X-Forwarded-For with a failed sign-in
    browser.post(
        f"{proxied.base}/accounts/login/",
        data={
            "username": "nobody@hilltop.example",
            "password": "wrong",
            "csrfmiddlewaretoken": token,
        },
        headers={"Referer": f"{proxied.base}/accounts/login/", "X-Forwarded-For": "203.0.113.9"},
        timeout=10,
    )
    # then the failure is recorded against the address the proxy saw, not the forged one
    attempt = AccessAttempt.objects.get(username="nobody@hilltop.example")
    assert attempt.ip_address == "127.0.0.1"
