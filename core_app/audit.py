"""The audit trail: one `record()` call per thing a user or a gateway did."""

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
