"""Counselor and admin web pages (Django templates, no npm build)."""
