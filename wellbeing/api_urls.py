"""REST API routes of every app, under /api/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from wellbeing.api.consent_views import ConsentRecordViewSet, NoticeViewSet
from wellbeing.api.device_views import DeviceViewSet
from wellbeing.api.school import SchoolSettingsView
from wellbeing.api.staff import StaffViewSet
from wellbeing.api.views import ClassroomViewSet, ParticipantViewSet

router = DefaultRouter()
router.register("participants", ParticipantViewSet, basename="participant")
router.register("consents", ConsentRecordViewSet, basename="consent")
router.register("notices", NoticeViewSet, basename="notice")
router.register("classrooms", ClassroomViewSet, basename="classroom")
router.register("devices", DeviceViewSet, basename="device")
router.register("staff", StaffViewSet, basename="staff")

urlpatterns = [
    path("school/", SchoolSettingsView.as_view(), name="school-settings"),
    *router.urls,
]
