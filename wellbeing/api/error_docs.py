"""OpenAPI descriptions of the error responses (the shape comes from wellbeing.api_errors)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ApiErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="Machine code, e.g. invalid, not_found, refused.")
    detail = serializers.CharField(help_text="What went wrong, in plain words.")
    # Shadows Serializer.fields only for type checkers: DRF moves declared fields elsewhere.
    fields = serializers.DictField(  # type: ignore[assignment]
        required=False, help_text="Per-field messages (only when error is 'invalid')."
    )


_DESCRIPTIONS = {
    400: "Invalid payload, or the action refused it (detail says why); nothing changed.",
    403: "Not signed in, or your role may not do this.",
    404: "Unknown id, or an id of another school.",
    503: "The face engine or FACE_TEMPLATE_KEY is not configured on this server.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Documented error responses for the given status codes."""
    return {
        code: OpenApiResponse(response=ApiErrorSerializer, description=_DESCRIPTIONS[code])
        for code in codes
    }
