"""Admin views FlowGate replaces: Django's own answer differently for rows of other organizations."""

from django.contrib import admin
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.http import Http404
from django.utils.translation import gettext


def _visible(request, model, object_id):
    """True when the row is one the user may see in the admin (its ModelAdmin's scoped queryset)."""
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return False
    row = model_admin.get_object(request, object_id)
    return row is not None and model_admin.has_view_or_change_permission(request, row)


def view_on_site(request, content_type_id, object_id):
    """/admin/r/<content type>/<id>/ ("view on site"), for rows the user may see in the admin.

    Django's own looks the id up among every organization's rows and answers "has no associated
    URL" for one that exists, so it told anyone whether another organization's id exists. A row the
    user may not see gets exactly the 404 of a missing id.
    """
    content_type = ContentType.objects.filter(pk=content_type_id).first()
    model = content_type.model_class() if content_type is not None else None
    if model is not None and not request.user.is_superuser and not _visible(request, model, object_id):
        message = gettext("Content type %(ct_id)s object %(obj_id)s doesn’t exist")
        raise Http404(message % {"ct_id": content_type_id, "obj_id": object_id})
    return contenttype_views.shortcut(request, content_type_id, object_id)
