"""The family portal's chart page (dashboard.portal_views), mounted at /portal/ beside
consent.portal_urls and privacy.portal_urls; it answers 404 unless the school shows charts."""

from django.urls import path

from dashboard import portal_views

app_name = "dashboard_portal"
urlpatterns = [
    path("students/<int:pk>/charts/", portal_views.charts, name="charts"),
]
