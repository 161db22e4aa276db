"""Student wellbeing platform: Django project and core domain models."""

from wellbeing.celery import app as celery_app

__all__ = ("celery_app",)
