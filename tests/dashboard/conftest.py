"""Helpers shared by the dashboard tests: what in a page's markup our CSP would refuse."""

from __future__ import annotations

import re

SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
STYLE_ATTR = re.compile(rb"<[^>]+\sstyle\s*=", re.I)
HANDLER_ATTR = re.compile(rb"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_TAG = re.compile(rb"<style\b", re.I)
IMAGE = re.compile(rb"<img\b|data:image", re.I)


def inline_problems(html: bytes) -> list[str]:
    """What in a page would need 'unsafe-inline' (or is an image): empty for a clean page."""
    problems = []
    for attrs, body in SCRIPT.findall(html):
        is_data = b'type="application/json"' in attrs
        if not is_data and (body.strip() or b"src=" not in attrs):
            problems.append(f"inline script: {attrs[:60]!r}")
    for pattern, what in ((STYLE_ATTR, "style attribute"), (HANDLER_ATTR, "on* handler")):
        problems += [what for _ in pattern.findall(html)]
    problems += ["<style> block" for _ in STYLE_TAG.findall(html)]
    problems += ["image" for _ in IMAGE.findall(html)]
    return problems
