from django.urls import URLPattern, URLResolver, path

from capture import api, views

app_name = "capture"
urlpatterns: list[URLPattern | URLResolver] = [
    path("ingest/sessions", views.start_session_view, name="ingest-session-start"),
    path("ingest/sessions/<int:session_id>/end", views.end_session_view, name="ingest-session-end"),
    path("ingest/frames", views.ingest_frame_view, name="ingest-frame"),
    path("ingest/frames/status", views.frame_status_view, name="ingest-frame-status"),
    path(
        "participants/<int:pk>/series/",
        api.ParticipantSeriesView.as_view(),
        name="participant-series",
    ),
    path("sessions/<int:pk>/summary/", api.SessionSummaryView.as_view(), name="session-summary"),
]
