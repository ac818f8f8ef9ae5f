from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.fields.json import KT


def transport_of_first_connection(apps, schema_editor):
    """Until now the pages showed the transport audited at a gateway's first connection: start from it."""
    Gateway = apps.get_model("gateways_app", "Gateway")
    AuditLog = apps.get_model("flowgate_site", "AuditLog")
    entries = AuditLog.objects.filter(actor_gateway_id=OuterRef("pk"), action="gateway.first_connection")
    first = entries.order_by("-created_at").annotate(transport=KT("changes__transport")).values("transport")[:1]
    Gateway.objects.update(transport=Coalesce(Subquery(first), Value("")))


class Migration(migrations.Migration):
    dependencies = [
        ("gateways_app", "0001_initial"),
        ("flowgate_site", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="gateway",
            name="transport",
            field=models.CharField(
                blank=True,
                choices=[("websocket", "WebSocket"), ("http", "plain HTTP")],
                help_text="OpAMP transport of its latest connection.",
                max_length=10,
            ),
        ),
        migrations.RunPython(transport_of_first_connection, migrations.RunPython.noop),
    ]
