# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flowgate_site", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="orgsettings",
            name="opamp_token_grace_minutes",
            field=models.PositiveIntegerField(
                default=60,
                help_text="After a token is re-issued, the old one works until the gateway connects with the new "
                "one or this many minutes pass.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(10080),
                ],
                verbose_name="OpAMP token grace period (minutes)",
            ),
        ),
        migrations.AddField(
            model_name="orgsettings",
            name="opamp_token_rotate_days",
            field=models.PositiveIntegerField(
                default=30,
                help_text=(
                    "Gateways that accept new tokens over OpAMP get one this many days before theirs expires "
                    "(0: never)."
                ),
                verbose_name="rotate OpAMP tokens before expiry (days)",
            ),
        ),
    ]
