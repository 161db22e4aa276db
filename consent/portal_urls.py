"""The family portal's pages (consent.portal_views), mounted at /portal/ by the root URLconf;
privacy.portal_urls adds the data export and erasure request under the same prefix."""

from django.urls import path

from consent import portal_views

app_name = "portal"
urlpatterns = [
    path("", portal_views.sign_in, name="sign_in"),
    path("link/<str:token>/", portal_views.link, name="link"),
    path("home/", portal_views.home, name="home"),
    path("students/<int:pk>/", portal_views.person, name="person"),
    path("students/<int:pk>/consent/", portal_views.consent_change, name="consent"),
    path("sign-out/", portal_views.sign_out, name="sign_out"),
]
