"""Consent API routes mounted by the root URLconf under /api/ (by name, so no import upward).

Consent's viewsets sit in the one router of wellbeing.api_urls; views that are no viewset and
need no router entry live here.
"""

from django.urls import path

from consent.roster_api import RosterImportView

urlpatterns = [
    path("roster-import/", RosterImportView.as_view(), name="roster-import"),
]
