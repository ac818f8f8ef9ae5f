# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gateways_app", "0004_registrationtoken_allow_re_enroll"),
    ]

    operations = [
        migrations.AddField(
            model_name="gateway",
            name="health_errors",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The latest errors, newest first, each dated and marked resolved (opamp_core/health_errors.py).",
            ),
        ),
    ]
