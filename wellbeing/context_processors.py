from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from wellbeing.models import staff_of


def staff_context(request: HttpRequest) -> dict[str, Any]:
    """Expose the signed-in user's StaffMember (or None) to templates as ``staff``."""
    return {"staff": staff_of(request.user)}
