"""Staff sign-in through a school's OpenID Connect provider (issue 16): one IdentityProvider per
school (Google Workspace, Microsoft Entra ID or a generic issuer), its client secret encrypted or
named as an environment variable, and whether the school's staff may still use passwords. A new
table only: no existing row changes, and every school keeps password sign-in.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("wellbeing", "0007_age_aware_consent"),
    ]

    operations = [
        migrations.CreateModel(
            name="IdentityProvider",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("google", "Google Workspace"), ("entra", "Microsoft Entra ID"), ("generic", "Other OpenID Connect provider")], max_length=16)),
                ("display_name", models.CharField(help_text='Shown as "Sign in with …".', max_length=80)),
                ("issuer", models.URLField(max_length=300)),
                ("tenant", models.CharField(blank=True, help_text="Entra directory (tenant) ID", max_length=64)),
                ("client_id", models.CharField(max_length=300)),
                ("client_secret_encrypted", models.TextField(blank=True)),
                ("client_secret_env", models.CharField(blank=True, max_length=100)),
                ("email_domains", models.JSONField(blank=True, default=list)),
                ("enabled", models.BooleanField(default=True)),
                ("staff_passwords_allowed", models.BooleanField(default=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("organization", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="identity_provider", to="wellbeing.organization")),
            ],
        ),
    ]
