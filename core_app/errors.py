"""Not-found errors whose message is written for people.

Django's own Http404 messages are for developers: the URL resolver's names every URL pattern and
the absolute path of every urls.py, `get_object_or_404`'s names the model. The 404 page and the
API show a message only when it was raised as PublicNotFound; anything else gets the plain text.
"""

from django.http import Http404

API_PREFIX = "/api/"
PLAIN_NOT_FOUND = "Not found."


class PublicNotFound(Http404):
    """Http404 with a message that may be shown to whoever asked (`str(error)`)."""


def public_message(exception):
    """The message of `exception` if it is meant for people, else ""."""
    if isinstance(exception, PublicNotFound) and exception.args and isinstance(exception.args[0], str):
        return exception.args[0]
    return ""
