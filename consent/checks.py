"""Deployment checks of our own settings (run by `manage.py check --deploy`).

A missing or malformed FACE_TEMPLATE_KEY would otherwise only surface when an admin first
enrolls a face; production should learn it at deploy time. The ids keep their historical
``wellbeing.`` prefix: operators silence them by id (SILENCED_SYSTEM_CHECKS).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from consent.template_crypto import TemplateKeyError, template_cipher

# The fixed key the demo falls back to with DEBUG on (see settings.FACE_TEMPLATE_KEY).
DEMO_TEMPLATE_KEY = "ZGVtby1vbmx5LWtleS1kZW1vLW9ubHkta2V5LWRlbW8="


@register(Tags.security, deploy=True)
def check_face_template_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        template_cipher()
    except TemplateKeyError as exc:
        return [
            Warning(
                str(exc),
                hint="Set FACE_TEMPLATE_KEY to a Fernet key (see .env.example).",
                id="wellbeing.W001",
            )
        ]
    keys = [key.strip() for key in settings.FACE_TEMPLATE_KEY.split(",")]
    if DEMO_TEMPLATE_KEY in keys:
        return [
            Warning(
                "FACE_TEMPLATE_KEY includes the public demo key.",
                hint="Generate a private key and rotate with `manage.py rotate_template_key`.",
                id="wellbeing.W002",
            )
        ]
    return []
