"""Celery tasks of the templates app: the collector's deep check of a new template version.

The deep check runs the collector binary (templates_app.collector_check), which can take seconds:
never inside the web request that saved the version. With a broker, services queue check_version
after the commit; without one (CELERY_TASK_ALWAYS_EAGER, the embedded defaults), the server's
embedded beat runs check_versions every second (settings.CELERY_BEAT_SCHEDULE's check-versions).
Both take ids and keep no state: services.check_version is idempotent.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from templates_app import services
from templates_app.models import TemplateVersion

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def check_version(version_id):
    """The deep check of one version still "checking"; its validation state afterwards (None: gone)."""
    version = services.check_version(version_id)
    return version.validation_state if version is not None else None


@shared_task
def check_versions(older_than_seconds=0):
    """Check every version "checking" for at least `older_than_seconds`, oldest first; how many.

    Without a broker this (every second, all of them) is how a new version gets its deep check.
    With one, the worker's check_version does it; this entry then only picks up versions whose
    queued check was lost (the broker was down at the commit), once they are a minute old.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    checking = TemplateVersion.objects.checking().filter(created_at__lte=cutoff).order_by("created_at")
    ids = [str(pk) for pk in checking.values_list("pk", flat=True)]
    for version_id in ids:
        try:
            check_version.apply((version_id,))
        except Exception:  # one version that cannot be checked must not stop the others
            logger.exception("could not check template version %s; the others go on", version_id)
    return len(ids)
