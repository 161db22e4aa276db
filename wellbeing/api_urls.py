"""REST API routes under /api/ in one router, so the API root lists them all.

Root wiring (like wellbeing.urls): it may import the viewsets of any app, and the layers
contract in pyproject.toml exempts it (docs/architecture.md).
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from capture.device_api import DeviceViewSet
from consent.api import (
    ConsentRecordViewSet,
    ConsentRulesView,
    NoticeViewSet,
    ParticipantViewSet,
)
from wellbeing.api.school import SchoolSettingsView
from wellbeing.api.staff import StaffViewSet
from wellbeing.api.views import ClassroomViewSet

router = DefaultRouter()
router.register("participants", ParticipantViewSet, basename="participant")
router.register("consents", ConsentRecordViewSet, basename="consent")
router.register("notices", NoticeViewSet, basename="notice")
router.register("classrooms", ClassroomViewSet, basename="classroom")
router.register("devices", DeviceViewSet, basename="device")
router.register("staff", StaffViewSet, basename="staff")

urlpatterns = [
    path("school/", SchoolSettingsView.as_view(), name="school-settings"),
    path("consent-rules/", ConsentRulesView.as_view(), name="consent-rules"),
    *router.urls,
]
