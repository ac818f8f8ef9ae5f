# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("templates_app", "0002_add_version_validation"),
    ]

    operations = []
