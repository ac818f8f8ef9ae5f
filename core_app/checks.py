"""Deploy checks of our own, run by `manage.py check --deploy`."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_secrets(app_configs, **kwargs):
    errors = []
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        errors.append(Error("SECRET_KEY is the development default.", hint="Set SECRET_KEY.", id="flowgate.E001"))
    if settings.JWT_SIGNING_KEY.startswith("jwt:") or len(settings.JWT_SIGNING_KEY) < 32:
        errors.append(
            Error(
                "JWT_SIGNING_KEY is unset or shorter than 32 characters.",
                hint="Set JWT_SIGNING_KEY to a long random string, separate from SECRET_KEY.",
                id="flowgate.E002",
            )
        )
    return errors
