from django.urls import path

from consent import roster_views, rule_views, views

app_name = "consent"
urlpatterns = [
    path("participants/", views.participant_list, name="participants"),
    path("participants/new/", views.participant_create, name="participant_create"),
    path("participants/<int:pk>/", views.participant_detail, name="participant"),
    path("participants/<int:pk>/guardians/", views.guardian_add, name="guardian_add"),
    path("participants/<int:pk>/consent/", views.consent_record, name="consent_record"),
    path("participants/<int:pk>/enroll/", views.enroll_face, name="enroll"),
    path("participants/<int:pk>/form/", views.consent_form_print, name="print_form"),
    path("records/<int:record_pk>/withdraw/", views.consent_withdraw, name="withdraw"),
    path("notices/", views.notice_list, name="notices"),
    path("rules/", rule_views.consent_rules, name="rules"),
    path("participants/<int:pk>/age/", rule_views.participant_age, name="participant_age"),
    path("roster/", roster_views.roster_upload, name="roster_import"),
    path("roster/confirm/", roster_views.roster_confirm, name="roster_confirm"),
    path("roster/template.csv", roster_views.roster_template, name="roster_template"),
]
