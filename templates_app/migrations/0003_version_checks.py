# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.
# The "checking" state: a version whose deep check (templates_app.tasks.check_version) has not finished.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("templates_app", "0002_add_version_validation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="templateversion",
            name="validation_state",
            field=models.CharField(
                choices=[
                    ("unvalidated", "Not validated"),
                    ("checking", "Being checked"),
                    ("valid", "Valid"),
                    ("warnings", "Valid with warnings"),
                    ("invalid", "Invalid"),
                ],
                default="unvalidated",
                editable=False,
                max_length=12,
            ),
        ),
    ]
