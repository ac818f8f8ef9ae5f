"""Choosing gateways: by tags ("key=value", all of them) and by name, always within one organization.

Deployments, the validation API and pages select target gateways through these functions, so
that a selector means the same everywhere.
"""

from django.core.exceptions import ValidationError
from django.db.models import Q

from gateways_app.models import Gateway, Tag

NO_TARGETS = "The selector matches no gateway."


def _pk(obj):
    return getattr(obj, "pk", obj)


def resolve_targets(org, *, tags=(), gateways=()):
    """Gateways of `org` carrying ALL of `tags`, united with the explicitly named `gateways`.

    An empty tag list selects no gateway by tags. Gateways of other organizations are never
    returned, whatever is passed in. The result is de-duplicated and ordered by name.
    """
    org_gateways = Gateway.objects.for_org(org)
    selected = Q(pk__in=[_pk(gateway) for gateway in gateways])
    tags = list(tags)
    if tags:
        tagged = org_gateways
        # One join per tag: a gateway matches only if it carries every one of them.
        for tag in tags:
            tagged = tagged.filter(tags=_pk(tag))
        selected |= Q(pk__in=tagged.values("pk"))
    return org_gateways.filter(selected).order_by("name")


def find_tags(org, labels):
    """The tags of `org` written as "key=value" labels; a ValidationError names unknown ones."""
    pairs = {}
    for label in labels:
        if "=" not in label:
            raise ValidationError({"selector_tags": f"Write tags as key=value (got {label!r})."})
        key, value = label.split("=", 1)
        pairs[label] = (key.strip(), value.strip())
    if not pairs:
        return []
    wanted = Q()
    for key, value in pairs.values():
        wanted |= Q(key=key, value=value)
    found = {(tag.key, tag.value): tag for tag in Tag.objects.for_org(org).filter(wanted)}
    unknown = [label for label, pair in pairs.items() if pair not in found]
    if unknown:
        raise ValidationError({"selector_tags": f"Unknown tag: {', '.join(unknown)}."})
    return [found[pair] for pair in pairs.values()]
