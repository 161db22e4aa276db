from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy and data-subject rights"

    def ready(self) -> None:
        from privacy import receivers  # noqa: F401  (connects consent_revoked)
