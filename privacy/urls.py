from django.urls import path

from privacy import views

app_name = "privacy"
urlpatterns = [
    path("participants/<int:pk>/export/", views.export_participant, name="export"),
    path("erasure/", views.erasure_requests, name="erasure_requests"),
    path("erasure/<int:pk>/decide/", views.erasure_decide, name="erasure_decide"),
]
