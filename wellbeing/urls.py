from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from wellbeing import sign_in_views, staff_views, two_factor_views, views
from wellbeing.two_factor import OptionalOTPAuthenticationForm


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# Devices and sessions became capture's models (issue 14), so their operator admin pages moved
# from /admin/wellbeing/ to /admin/capture/; an old link or bookmark still gets there.
moved_admin_pages = [
    re_path(
        r"^wellbeing/(?P<model>capturedevice|classsession)/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/capture/%(model)s/%(rest)s", query_string=True),
    )
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", include(moved_admin_pages)),
    path("admin/", admin.site.urls),
    path("schools/<slug:slug>/retention/", views.retention_schedule, name="retention"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/export.csv", views.audit_log_csv, name="audit_csv"),
    path(
        "accounts/login/",
        sign_in_views.StaffLoginView.as_view(authentication_form=OptionalOTPAuthenticationForm),
        name="login",
    ),
    path("accounts/oidc/find/", sign_in_views.oidc_find, name="oidc_find"),
    path("accounts/oidc/<slug:slug>/start/", sign_in_views.oidc_start, name="oidc_start"),
    path("accounts/oidc/<slug:slug>/callback/", sign_in_views.oidc_callback, name="oidc_callback"),
    path("staff/sign-in/", sign_in_views.identity_provider_settings, name="identity_provider"),
    path("staff/sign-in/passwords/", sign_in_views.staff_passwords, name="staff_passwords"),
    path("accounts/two-factor/", two_factor_views.two_factor_setup, name="two_factor"),
    path(
        "accounts/two-factor/backup-codes/",
        two_factor_views.two_factor_backup_codes,
        name="two_factor_backup_codes",
    ),
    path(
        "accounts/two-factor/disable/",
        two_factor_views.two_factor_disable,
        name="two_factor_disable",
    ),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        staff_views.SetPasswordView.as_view(),
        name="set_password",
    ),
    path("staff/", staff_views.staff_list, name="staff_list"),
    path("staff/new/", staff_views.staff_create, name="staff_create"),
    path("staff/<int:pk>/", staff_views.staff_detail, name="staff_detail"),
    path("staff/<int:pk>/role/", staff_views.staff_role, name="staff_role"),
    path("staff/<int:pk>/deactivate/", staff_views.staff_deactivate, name="staff_deactivate"),
    path("staff/<int:pk>/reactivate/", staff_views.staff_reactivate, name="staff_reactivate"),
    path("staff/<int:pk>/invite/", staff_views.staff_invite, name="staff_invite"),
    path("staff/two-factor/", two_factor_views.two_factor_policy, name="two_factor_policy"),
    path(
        "staff/<int:pk>/two-factor/reset/",
        two_factor_views.staff_two_factor_reset,
        name="staff_two_factor_reset",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/", include("capture.urls")),
    path("api/", include("alerts.api_urls")),
    path("api/", include("consent.api_urls")),
    path("api/", include("wellbeing.api_urls")),
    path("alerts/", include("alerts.urls")),
    # Device pages are capture's (CaptureDevice is), at the paths they always had.
    path("consent/devices/", include("capture.device_urls")),
    path("consent/", include("consent.urls")),
    path("privacy/", include("privacy.urls")),
    # The family portal (consent.portal; its export and erasure pages are privacy's, its
    # expression chart, where the school shows it, dashboard's).
    path("portal/", include("consent.portal_urls")),
    path("portal/", include("privacy.portal_urls")),
    path("portal/", include("dashboard.portal_urls")),
    path("", include("dashboard.urls")),
]
