"""Signals of telemetry_app, for the layers above it (opamp_app connects to them in OpampConfig.ready()).

- `telemetry_credential_rotated(sender=TelemetryCredential, gateway_id=UUID)`: the gateway has a new
  telemetry credential (credentials.rotate); the OpAMP server offers it at once to the gateway's open
  connections (ConnectionSettingsOffers.own_metrics), so its collector switches within the grace period.
  Sent after the transaction that made the change commits.
"""

from django.dispatch import Signal

telemetry_credential_rotated = Signal()
