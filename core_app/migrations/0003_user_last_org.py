# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.
# The organization a person last chose, where their next sign-in starts (core_app.pages.current_membership).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("flowgate_site", "0002_token_rotation_settings"),
    ]

    operations = [
        migrations.CreateModel(
            name="LastOrganization",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="last_organization",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("chosen_at", models.DateTimeField(auto_now=True)),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="flowgate_site.organization",
                    ),
                ),
            ],
            options={"verbose_name": "last organization"},
        ),
    ]
