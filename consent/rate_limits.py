"""Counting requests in a fixed window, in the shared cache (Redis in production), for the
public pages that need no sign-in: the e-mailed consent links and the family portal."""

from __future__ import annotations

from django.core.cache import cache


def count_hit(key: str, window_seconds: int) -> int:
    """Count one more request under ``key`` and return the count within its window (the window
    starts at the key's first request and lasts ``window_seconds``)."""
    cache.add(key, 0, window_seconds)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window_seconds)
        return 1


def over_limit(key: str, limit: int, window_seconds: int) -> bool:
    """Count one more request under ``key``; True when it is beyond ``limit`` in the window."""
    return count_hit(key, window_seconds) > limit
