from django.urls import URLPattern, URLResolver, path

from alerts import settings_views, views

app_name = "alerts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.inbox, name="inbox"),
    path("rules/", settings_views.rule_list, name="rules"),
    path("rules/<int:pk>/", settings_views.rule_edit, name="rule_edit"),
    path("preferences/", settings_views.email_preference, name="preferences"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<slug:action>/", views.act, name="act"),
]
