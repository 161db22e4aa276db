"""The project's middleware: the first two run before Django's own, two-factor after it."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve, reverse

from wellbeing.models import StaffMember, staff_of
from wellbeing.two_factor import PROMPT_SESSION_KEY, Gate, gate_for, session_verified


class HealthCheckMiddleware:
    """Answer ``GET /healthz`` before host validation and the HTTPS redirect.

    Container probes (docker-compose) call http://localhost:8000/healthz: plain HTTP, and a host
    that production's ALLOWED_HOSTS rightly does not list, so the view itself would answer 400.
    The answer reveals nothing but liveness.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            return JsonResponse({"status": "ok"})
        return self.get_response(request)


class RejectNulBytesMiddleware:
    """Answer 400 to a request whose query string holds a NUL byte (``%00``).

    PostgreSQL refuses NUL in text, so a search or filter carrying one used to end in a 500
    wherever the value reached a query. No legitimate link or form produces one, so the request
    is refused before any view sees it: JSON for the API, plain text for pages.
    """

    MESSAGE = "The request's query string contains a NUL byte (%00), which no field accepts."

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any("\x00" in key or "\x00" in "".join(values) for key, values in request.GET.lists()):
            if request.path.startswith("/api/"):
                return JsonResponse({"error": "invalid", "detail": self.MESSAGE}, status=400)
            return HttpResponse(self.MESSAGE, status=400, content_type="text/plain")
        return self.get_response(request)


class TwoFactorRequiredMiddleware:
    """The one place two-factor is enforced for staff sessions (pages and the session API).

    A signed-in member whose school requires two-factor of their role and who is past their
    grace period (wellbeing.two_factor) reaches only the setup page and signing out: pages
    redirect there, the API answers 403 ``two_factor_required``. A member with an authenticator
    whose session was not verified with a code (one signed in before it was set up) is sent to
    verify first (403 ``two_factor_unverified`` from the API). Runs after django-otp's
    OTPMiddleware. The Django admin checks its own second factor (wellbeing.admin_site); the
    device ingest API authenticates capture devices by token, not staff sessions, and is left
    alone.
    """

    # Signing in again (also through the school's provider, whose MFA can verify a session).
    OPEN_URL_NAMES = frozenset(
        {
            "two_factor",
            "login",
            "logout",
            "set_password",
            "retention",
            "oidc_start",
            "oidc_callback",
        }
    )
    OPEN_PREFIXES = ("/admin/", "/api/ingest/", "/static/", "/healthz")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        staff = self._member_to_check(request)
        if staff is None:
            return self.get_response(request)
        verified = session_verified(request)
        gate = gate_for(staff, session_verified=verified)
        api = request.path.startswith("/api/")
        if gate != Gate.ALLOW:
            if api:
                return JsonResponse(API_REFUSALS[gate], status=403)
            return self._to_setup(request)
        # In the grace period: the first page after signing in is the setup page (once).
        prompt = request.session.pop(PROMPT_SESSION_KEY, False) and not verified
        if prompt and not api and request.method == "GET":
            return self._to_setup(request)
        return self.get_response(request)

    def _member_to_check(self, request: HttpRequest) -> StaffMember | None:
        if request.path.startswith(self.OPEN_PREFIXES) or not request.user.is_authenticated:
            return None
        staff = staff_of(request.user)
        if staff is None or _url_name(request) in self.OPEN_URL_NAMES:
            return None
        return staff

    @staticmethod
    def _to_setup(request: HttpRequest) -> HttpResponse:
        return redirect_to_login(request.get_full_path(), reverse("two_factor"), "next")


API_REFUSALS = {
    Gate.SET_UP: {
        "error": "two_factor_required",
        "detail": "Your school requires two-factor sign-in: set it up at /accounts/two-factor/.",
    },
    Gate.VERIFY: {
        "error": "two_factor_unverified",
        "detail": "Confirm this session with your authenticator code at /accounts/two-factor/.",
    },
}


def _url_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None
