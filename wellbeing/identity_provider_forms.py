"""Forms of the sign-in pages (validation of input only; wellbeing.identity_providers acts)."""

from __future__ import annotations

from django import forms

from wellbeing.identity_providers import ProviderSettings
from wellbeing.models import IdentityProvider, IdentityProviderKind


class IdentityProviderForm(forms.Form):
    """A school's provider. The secret field is write-only: it is never filled in again."""

    kind = forms.ChoiceField(choices=IdentityProviderKind.choices, label="Provider")
    tenant = forms.CharField(
        required=False,
        label="Entra directory (tenant) ID",
        help_text="Microsoft Entra ID only: the GUID on the tenant's overview page.",
    )
    issuer = forms.URLField(
        required=False,
        max_length=300,
        assume_scheme="https",
        label="Issuer",
        help_text="Other providers only: the issuer URL; its /.well-known/openid-configuration "
        "must answer. Google and Entra fill this in themselves.",
    )
    client_id = forms.CharField(max_length=300, label="Client ID")
    client_secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        label="Client secret",
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored one.",
    )
    client_secret_env = forms.CharField(
        required=False,
        max_length=100,
        label="…or the environment variable holding it",
        help_text="e.g. OIDC_SECRET_NORTHSIDE, set on the server; the secret is then not stored.",
    )
    email_domains = forms.CharField(
        required=False,
        label="Staff e-mail domains",
        help_text="Comma-separated, e.g. northside.sch.uk: staff typing their address on the "
        "sign-in page are sent to this provider.",
    )
    display_name = forms.CharField(
        required=False, max_length=80, label='Button text after "Sign in with"'
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Staff may sign in with it")

    @classmethod
    def for_provider(cls, provider: IdentityProvider | None) -> IdentityProviderForm:
        if provider is None:
            return cls()
        initial = {
            "kind": provider.kind,
            "tenant": provider.tenant,
            "issuer": provider.issuer if provider.kind == IdentityProviderKind.GENERIC else "",
            "client_id": provider.client_id,
            "client_secret_env": provider.client_secret_env,
            "email_domains": ", ".join(provider.email_domains),
            "display_name": provider.display_name,
            "enabled": provider.enabled,
        }
        return cls(initial=initial)

    def provider_settings(self) -> ProviderSettings:
        data = self.cleaned_data
        domains = tuple(d.strip().lower() for d in data["email_domains"].split(",") if d.strip())
        return ProviderSettings(
            kind=data["kind"],
            client_id=data["client_id"],
            display_name=data["display_name"],
            issuer=data["issuer"],
            tenant=data["tenant"].strip(),
            client_secret=data["client_secret"] or None,
            client_secret_env=data["client_secret_env"].strip(),
            email_domains=domains,
            enabled=data["enabled"],
        )


class FindSchoolForm(forms.Form):
    email = forms.EmailField(label="Your work e-mail address")
