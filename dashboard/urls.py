from django.urls import path

from dashboard import report_views, views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("students/<int:pk>/", views.student, name="student"),
    path("sessions/<int:pk>/live/", views.live_session, name="live"),
    path("reports/", report_views.reports, name="reports"),
    path("reports/print/", report_views.reports_print, name="reports_print"),
    path("reports/<slug:kind>.csv", report_views.report_csv, name="report_csv"),
]
