# Issue 14. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("flowgate_site", "0005_savings_prices"),
    ]

    operations = []
