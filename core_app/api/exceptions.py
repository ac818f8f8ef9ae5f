"""Turn model-level errors into 4xx answers with a message, and database outages into 503, never a 500."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core_app import errors, outage


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        # DRF would pass Django's message on ("No Gateway matches the given query."): name nothing.
        exc = exceptions.NotFound(errors.public_message(exc) or errors.PLAIN_NOT_FOUND)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        # Django says "__all__" where DRF says "non_field_errors": answer in DRF's terms.
        if NON_FIELD_ERRORS in detail:
            detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, ProtectedError):
        names = sorted({str(obj) for obj in exc.protected_objects})[:5]
        return Response(
            {"detail": f"This object is in use and cannot be deleted (used by: {', '.join(names)})."},
            status=status.HTTP_409_CONFLICT,
        )
    if outage.is_outage(exc):
        # Authentication included: a token lookup the database cannot answer is neither a 500 nor a 401.
        outage.logger.error("database unavailable in the API", exc_info=exc)
        return Response({"detail": outage.MESSAGE}, status=503, headers=outage.retry_headers())
    return drf_exception_handler(exc, context)
