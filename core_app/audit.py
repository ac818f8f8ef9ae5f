"""The audit trail: one `record()` call per thing a user or a gateway did, and how the log page reads it."""

from dataclasses import dataclass

from django.utils.text import Truncator

from core_app.models import AuditLog
from core_app.ratelimit import client_address


def client_ip(request):
    """The caller's address, as the rate limits see it (REMOTE_ADDR, or FLOWGATE_CLIENT_IP_HEADER behind proxies)."""
    if request is None:
        return None
    address = client_address(request)
    return None if address == "unknown" else address


def record(org, action, obj=None, *, user=None, gateway=None, changes=None, request=None, ip=None):
    """Append an audit entry. `obj` is the model instance acted on (or None)."""
    if gateway is not None:
        actor_name = f"gateway:{gateway.name}"
    elif user is not None and user.is_authenticated:
        actor_name = user.get_username()
    else:
        actor_name = "system"
    if request is not None and user is None and request.user.is_authenticated:
        user = request.user
        actor_name = user.get_username()
    return AuditLog.objects.create(
        organization=org,
        actor_user=user if (user is not None and user.is_authenticated) else None,
        actor_gateway_id=gateway.pk if gateway is not None else None,
        actor_name=actor_name,
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        changes=changes or {},
        source_ip=ip or client_ip(request),
    )


# How much of an entry's changes the audit log page shows: a deployment lists up to 50 targets, a version its hash.
LIST_ITEMS_SHOWN = 8
VALUE_CHARS_SHOWN = 200


@dataclass(frozen=True)
class ChangeRow:
    """One line of an entry's Changes column: a field and its value, or its value before and after."""

    field: str
    value: str = ""
    before: str = ""
    after: str = ""
    changed: bool = False


def readable_changes(changes):
    """[ChangeRow] of an entry's `changes`, in words: `{"from": a, "to": b}` reads "a → b", lists as
    "a, b … and 3 more". The page escapes the text; nothing here is markup."""
    if not changes:
        return []
    if not isinstance(changes, dict):
        return [ChangeRow(field="", value=_text(changes))]
    rows = []
    for field, value in changes.items():
        if isinstance(value, dict) and set(value) == {"from", "to"}:
            rows.append(ChangeRow(str(field), before=_text(value["from"]), after=_text(value["to"]), changed=True))
        else:
            rows.append(ChangeRow(str(field), value=_text(value)))
    return rows


def _text(value):
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        shown = ", ".join(_text(item) for item in value[:LIST_ITEMS_SHOWN])
        more = len(value) - LIST_ITEMS_SHOWN
        return f"{shown} … and {more} more" if more > 0 else shown
    if isinstance(value, dict):
        return ", ".join(f"{key}={_text(item)}" for key, item in value.items()) or "none"
    if value == "":
        return "(empty)"
    return Truncator(str(value)).chars(VALUE_CHARS_SHOWN)
