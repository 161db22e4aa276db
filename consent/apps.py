from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and enrollment"

    def ready(self) -> None:
        from consent import checks  # noqa: F401  (registers the deployment checks)
