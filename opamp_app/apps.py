from django.apps import AppConfig


class OpampConfig(AppConfig):
    name = "opamp_app"
    verbose_name = "Opamp"

    def ready(self):
        from django.db.models.signals import post_save

        from core_app.models import OrgSettings
        from gateways_app.signals import opamp_tokens_revoked
        from opamp_app.push import on_settings_saved, on_tokens_revoked

        opamp_tokens_revoked.connect(on_tokens_revoked, dispatch_uid="opamp_app.push.on_tokens_revoked")
        post_save.connect(on_settings_saved, sender=OrgSettings, dispatch_uid="opamp_app.push.on_settings_saved")
