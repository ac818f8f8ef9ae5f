# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("deployments_app", "0004_deployment_validation"),
    ]

    operations = []
