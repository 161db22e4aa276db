from django.apps import AppConfig

# A module, not the class: an imported AdminConfig would count as one of this module's configs.
from django.contrib.admin import apps as admin_apps


class WellbeingConfig(AppConfig):
    # This module holds a second AppConfig (below): say which one is the app's.
    default = True
    name = "wellbeing"
    verbose_name = "Core: schools, staff and people"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from wellbeing.receivers import note_two_factor_at_sign_in

        user_logged_in.connect(note_two_factor_at_sign_in, dispatch_uid="two_factor_sign_in")


class OperatorAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, whose default ``admin.site`` requires a second factor."""

    default = False
    default_site = "wellbeing.admin_site.OperatorAdminSite"
