"""Database outages answer 503 + Retry-After, never a 500 page (docs/security.md, "Database outages").

OperationalError and InterfaceError are what Django raises when PostgreSQL cannot be reached, is
restarting or dropped the connection: nothing the client did wrong, and worth retrying. The API
(core_app.api.exceptions) answers them as JSON, pages and admin through
DatabaseOutageMiddleware, OpAMP with its UNAVAILABLE error (opamp_app/views.py, consumers.py).
Other database errors (IntegrityError, DataError) are bugs or conflicts and stay as they were.
"""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader
from django.utils.deprecation import MiddlewareMixin

logger = logging.getLogger(__name__)

OUTAGE_ERRORS = (OperationalError, InterfaceError)
MESSAGE = "The database is unavailable; nothing was changed. Retry later."


def is_outage(exception) -> bool:
    return isinstance(exception, OUTAGE_ERRORS)


def retry_headers() -> dict:
    return {"Retry-After": str(settings.FLOWGATE_OUTAGE_RETRY_AFTER_SECONDS)}


def page_response():
    # Rendered without the request: context processors would query the database again.
    body = loader.get_template("503.html").render({"retry_after": settings.FLOWGATE_OUTAGE_RETRY_AFTER_SECONDS})
    return HttpResponse(body, status=503, headers=retry_headers())


class DatabaseOutageMiddleware(MiddlewareMixin):
    """Turns a page's or the admin's database outage into the 503 page (sync and async, no thread hop)."""

    def process_exception(self, request, exception):
        if not is_outage(exception):
            return None
        logger.error("database unavailable during %s %s", request.method, request.path, exc_info=exception)
        return page_response()
