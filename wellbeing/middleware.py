"""Middleware that must run before Django's own."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


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
