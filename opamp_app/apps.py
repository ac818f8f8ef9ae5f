from django.apps import AppConfig


class OpampConfig(AppConfig):
    name = "opamp_app"
    verbose_name = "Opamp"

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_save

        from core_app.agent_urls import check_public_url
        from core_app.models import OrgSettings
        from gateways_app.signals import (
            desired_config_changed,
            opamp_token_offered,
            opamp_tokens_revoked,
            restart_requested,
        )
        from opamp_app.push import (
            on_desired_config_changed,
            on_restart_requested,
            on_settings_saved,
            on_telemetry_credential_rotated,
            on_token_offered,
            on_tokens_revoked,
        )
        from telemetry_app.signals import telemetry_credential_rotated

        opamp_tokens_revoked.connect(on_tokens_revoked, dispatch_uid="opamp_app.push.on_tokens_revoked")
        desired_config_changed.connect(
            on_desired_config_changed, dispatch_uid="opamp_app.push.on_desired_config_changed"
        )
        restart_requested.connect(on_restart_requested, dispatch_uid="opamp_app.push.on_restart_requested")
        opamp_token_offered.connect(on_token_offered, dispatch_uid="opamp_app.push.on_token_offered")
        post_save.connect(on_settings_saved, sender=OrgSettings, dispatch_uid="opamp_app.push.on_settings_saved")
        telemetry_credential_rotated.connect(
            on_telemetry_credential_rotated, dispatch_uid="opamp_app.push.on_telemetry_credential_rotated"
        )

        # A wrong URL would be offered to every agent: refuse to start with it (ImproperlyConfigured).
        check_public_url(settings.FLOWGATE_OPAMP_PUBLIC_URL)
