"""Fleet history for the dashboard: how many gateways were connected, sampled periodically."""

from django.db import models

from core_app.models import OrgOwnedModel


class FleetSnapshot(OrgOwnedModel):
    """The organization's gateways per status at one moment.

    Written every FLOWGATE_FLEET_SNAPSHOT_SECONDS by the `record_fleet_snapshots` task (Celery beat);
    the dashboard's "connected gateways over time" chart reads them. Gateways only store their
    current status, so without these samples there would be no history to draw.
    """

    taken_at = models.DateTimeField(db_index=True)
    online = models.PositiveIntegerField(default=0)
    degraded = models.PositiveIntegerField(default=0)
    offline = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["organization", "taken_at"]
        indexes = [models.Index(fields=["organization", "taken_at"], name="dashboard_snapshot_org_time")]

    def __str__(self):
        return f"{self.organization_id} at {self.taken_at:%Y-%m-%d %H:%M}: {self.connected} connected"

    @property
    def connected(self):
        """Gateways with a live OpAMP connection (online or degraded)."""
        return self.online + self.degraded

    @property
    def total(self):
        return self.online + self.degraded + self.offline
