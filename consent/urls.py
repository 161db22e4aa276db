from django.urls import path

from consent import request_views, roster_views, rule_views, views

app_name = "consent"
urlpatterns = [
    path("participants/", views.participant_list, name="participants"),
    path("participants/new/", views.participant_create, name="participant_create"),
    path("participants/<int:pk>/", views.participant_detail, name="participant"),
    path("participants/<int:pk>/guardians/", views.guardian_add, name="guardian_add"),
    path("participants/<int:pk>/email/", views.participant_email, name="participant_email"),
    path("participants/<int:pk>/consent/", views.consent_record, name="consent_record"),
    path("participants/<int:pk>/enroll/", views.enroll_face, name="enroll"),
    path("participants/<int:pk>/form/", views.consent_form_print, name="print_form"),
    path("records/<int:record_pk>/withdraw/", views.consent_withdraw, name="withdraw"),
    path("notices/", views.notice_list, name="notices"),
    path("rules/", rule_views.consent_rules, name="rules"),
    path("rules/portal-charts/", rule_views.portal_charts, name="portal_charts"),
    path("participants/<int:pk>/age/", rule_views.participant_age, name="participant_age"),
    path("roster/", roster_views.roster_upload, name="roster_import"),
    path("roster/confirm/", roster_views.roster_confirm, name="roster_confirm"),
    path("roster/template.csv", roster_views.roster_template, name="roster_template"),
    path("requests/", request_views.request_classes, name="request_classes"),
    path("requests/class/<int:pk>/", request_views.class_requests, name="class_requests"),
    path(
        "requests/class/<int:pk>/send/",
        request_views.class_requests_send,
        name="class_requests_send",
    ),
    path(
        "participants/<int:pk>/request/",
        request_views.participant_request,
        name="participant_request",
    ),
    # Public: the e-mailed link (token-authenticated, no sign-in).
    path("answer/<str:token>/", request_views.consent_answer, name="consent_answer"),
]
