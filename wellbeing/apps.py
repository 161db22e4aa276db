from django.apps import AppConfig


class WellbeingConfig(AppConfig):
    name = "wellbeing"
    verbose_name = "Core: schools, people and devices"

    def ready(self) -> None:
        from wellbeing import checks  # noqa: F401  (registers the deployment checks)
