# Issue 14. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ('gateways_app', '0006_token_rotation'),
    ]

    operations = []
