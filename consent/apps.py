from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and enrollment"

    def ready(self) -> None:
        from django.db.models.signals import pre_save

        from consent import checks  # noqa: F401  (registers the deployment checks)
        from consent.receivers import fill_in_consent_rules
        from wellbeing.models import Organization

        pre_save.connect(fill_in_consent_rules, sender=Organization, dispatch_uid="consent_rules")
