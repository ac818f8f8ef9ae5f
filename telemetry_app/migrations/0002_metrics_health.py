# Issue 14. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ('telemetry_app', '0001_initial'),
    ]

    operations = []
