"""Permission decorators for template views: the view receives the caller's StaffMember."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from wellbeing.models import staff_of

StaffView = Callable[..., HttpResponseBase]


def staff_required(*roles: str) -> Callable[[StaffView], Callable[..., HttpResponseBase]]:
    """Require a signed-in staff member (of one of ``roles`` when given).

    Anonymous users are sent to the login page; signed-in users without the role get 403.
    The wrapped view is called as ``view(request, staff, *args, **kwargs)``.
    """

    def decorator(view: StaffView) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            staff = staff_of(request.user)
            if staff is None or (roles and staff.role not in roles):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, staff, *args, **kwargs)

        return wrapper

    return decorator
