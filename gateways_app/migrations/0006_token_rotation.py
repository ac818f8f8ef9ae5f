# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("gateways_app", "0005_health_error_history"),
        ("flowgate_site", "0002_token_rotation_settings"),
    ]

    operations = []
