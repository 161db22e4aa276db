"""Settings of the daphne server the live-view browser test starts (plain http, test DB)."""

from wellbeing.test_settings import *  # noqa: F403

# The browser talks plain http to 127.0.0.1: cookies must not require https.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
