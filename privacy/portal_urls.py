"""The family portal's data-subject pages (privacy.portal_views), mounted at /portal/ beside
consent.portal_urls."""

from django.urls import path

from privacy import portal_views

app_name = "privacy_portal"
urlpatterns = [
    path("students/<int:pk>/export/", portal_views.export, name="export"),
    path("students/<int:pk>/erasure/", portal_views.erasure, name="erasure"),
]
