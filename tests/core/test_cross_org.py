"""Cross-organization isolation for every API route and every method it offers.

The routes are discovered from the URL resolver, so a new endpoint is covered automatically:
`test_every_api_route_has_a_cross_org_case` fails until it gets a case in OTHER_ORG_OBJECTS.

alice (owner of acme) attacks objects of globex. Every detail route must answer 404 for every
method (never 403, never 200), lists must not contain globex's rows, and nothing of globex's
may change.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from core_app import audit
from core_app.models import AuditLog
from deployments_app.services import create_deployment
from gateways_app.models import Gateway, OpAMPToken, RegistrationToken, Tag
from gateways_app.services import create_registration_token
from templates_app.models import ConfigTemplate, TemplateVersion

CONFIG = "receivers:\n  otlp:\n    protocols:\n      grpc: {}\n"
# Routes with their own authentication, or no data at all.
# gateway-heartbeat is authenticated by a gateway's OpAMP token (tests/gateway/test_heartbeat_api.py
# checks that another gateway's token gets 404).
NOT_ORG_DATA = {"api-schema", "api-docs", "gateway-register", "gateway-heartbeat", "opamp-http-api"}
# POST /validation reads no stored object: it checks the YAML it is sent (another organization's
# gateway ids are a 400 "does not exist": tests/templates_app/test_validation_api.py).
NOT_ORG_DATA |= {"validation"}


HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def api_routes(patterns=None):
    """(url name, {method: action}) for every route under /api/v1/."""
    resolver = get_resolver()
    found = {}

    def walk(items, prefix):
        for item in items:
            if isinstance(item, URLResolver):
                walk(item.url_patterns, prefix + str(item.pattern))
            elif isinstance(item, URLPattern) and (prefix + str(item.pattern)).startswith("api/v1/"):
                actions = getattr(item.callback, "actions", None) or {}
                view_class = getattr(item.callback, "view_class", None)
                if not actions and view_class is not None:  # a plain APIView: the methods it handles
                    actions = {method: method for method in HTTP_METHODS if hasattr(view_class, method)}
                found[item.name] = actions

    walk(patterns or resolver.url_patterns, "")
    return found


@pytest.fixture
def globex(other_org, charlie):
    """One object of every kind in globex."""
    template = ConfigTemplate.objects.create(organization=other_org, name="globex-t")
    TemplateVersion.objects.create(template=template, number=1, config_yaml=CONFIG)
    version2 = TemplateVersion.objects.create(template=template, number=2, config_yaml=CONFIG + "# v2\n")
    tag = Tag.objects.create(organization=other_org, key="env", value="prod")
    gateway = Gateway.objects.create(organization=other_org, name="globex-gw")
    gateway.tags.add(tag)
    OpAMPToken.objects.create(gateway=gateway, jti="globex-jti", issued_at=timezone.now(), expires_at=timezone.now())
    token, _ = create_registration_token(other_org, name="globex-reg", created_by=charlie)
    deployment = create_deployment(other_org, template_version=version2, selector_gateways=[gateway], user=charlie)
    entry = audit.record(other_org, "template.created", template, user=charlie)
    return {
        "org": other_org,
        "template": template,
        "tag": tag,
        "gateway": gateway,
        "token": token,
        "deployment": deployment,
        "target": deployment.targets.get(),
        "audit": entry,
    }


# url name -> kwargs for reverse(), built from the globex objects.
OTHER_ORG_OBJECTS = {
    "organization-list": lambda g: {},
    "organization-detail": lambda g: {"slug": g["org"].slug},
    "settings-list": lambda g: {},
    "settings-detail": lambda g: {"slug": g["org"].slug},
    "auditlog-list": lambda g: {},
    "auditlog-detail": lambda g: {"pk": g["audit"].pk},
    "template-list": lambda g: {},
    "template-detail": lambda g: {"pk": g["template"].pk},
    "template-diff": lambda g: {"pk": g["template"].pk},
    "template-version-list": lambda g: {"template_id": g["template"].pk},
    "template-version-detail": lambda g: {"template_id": g["template"].pk, "number": 1},
    "gateway-list": lambda g: {},
    "gateway-detail": lambda g: {"pk": g["gateway"].pk},
    "gateway-mark-offline": lambda g: {"pk": g["gateway"].pk},
    "gateway-reissue-token": lambda g: {"pk": g["gateway"].pk},
    "gateway-revoke-token": lambda g: {"pk": g["gateway"].pk},
    "gateway-restart": lambda g: {"pk": g["gateway"].pk},
    "registration-token-list": lambda g: {},
    "registration-token-detail": lambda g: {"pk": g["token"].pk},
    "registration-token-revoke": lambda g: {"pk": g["token"].pk},
    "agent-tag-list": lambda g: {},
    "agent-tag-detail": lambda g: {"pk": g["tag"].pk},
    "deployment-list": lambda g: {},
    "deployment-detail": lambda g: {"pk": g["deployment"].pk},
    "deployment-pause": lambda g: {"pk": g["deployment"].pk},
    "deployment-resume": lambda g: {"pk": g["deployment"].pk},
    "deployment-cancel": lambda g: {"pk": g["deployment"].pk},
    "deployment-rollback": lambda g: {"pk": g["deployment"].pk},
    "template-version-rollback": lambda g: {"template_id": g["template"].pk, "number": 1},
    "deployment-target-list": lambda g: {"deployment_pk": g["deployment"].pk},
    "deployment-target-detail": lambda g: {"deployment_pk": g["deployment"].pk, "pk": g["target"].pk},
    "deployment-comparison": lambda g: {"pk": g["deployment"].pk},
    "template-version-comparison": lambda g: {"template_id": g["template"].pk, "number": 2},
    "telemetry-gateway-throughput": lambda g: {"pk": g["gateway"].pk},
    "telemetry-throughput": lambda g: {},
}

# Query strings some routes need to get past parameter checks (so the 404 is about the object).
QUERY = {"template-diff": "?from=1&to=2"}

CASES = [
    (name, method)
    for name, actions in sorted(api_routes().items())
    if name not in NOT_ORG_DATA
    for method in sorted(actions)
]


def test_every_api_route_has_a_cross_org_case():
    missing = set(api_routes()) - NOT_ORG_DATA - set(OTHER_ORG_OBJECTS)
    assert not missing, f"add these routes to OTHER_ORG_OBJECTS: {sorted(missing)}"


def fingerprint(globex):
    """What a successful cross-org attack would change."""
    gateway = Gateway.objects.get(pk=globex["gateway"].pk)
    return {
        "audit": AuditLog.objects.for_org(globex["org"]).count(),
        "templates": ConfigTemplate.objects.for_org(globex["org"]).count(),
        "versions": TemplateVersion.objects.for_org(globex["org"]).count(),
        "tags": sorted(Tag.objects.for_org(globex["org"]).values_list("key", "value")),
        "gateway": (gateway.name, gateway.status),
        "opamp_tokens_revoked": OpAMPToken.objects.filter(gateway=gateway, revoked_at__isnull=False).count(),
        "reg_token": RegistrationToken.objects.get(pk=globex["token"].pk).revoked_at,
        "deployment_status": globex["deployment"].__class__.objects.get(pk=globex["deployment"].pk).status,
        "heartbeat": globex["org"]
        .settings.__class__.objects.get(organization=globex["org"])
        .heartbeat_interval_seconds,
    }


@pytest.mark.parametrize("name, method", CASES)
def test_other_orgs_objects_are_not_found(api_client, globex, name, method):
    kwargs = OTHER_ORG_OBJECTS[name](globex)
    url = reverse(name, kwargs=kwargs) + QUERY.get(name, "")
    before = fingerprint(globex)
    body = {"name": "stolen", "heartbeat_interval_seconds": 5, "key": "env", "value": "pwned"}
    response = getattr(api_client, method)(url, body if method in ("post", "put", "patch") else None)

    is_list = not kwargs
    if is_list and method == "get":
        assert response.status_code == 200, response.content
        assert "globex" not in response.content.decode().lower()
    elif is_list and method == "post":
        # Creating in globex by naming it: the organization field refuses it.
        response = api_client.post(url, {"organization": "globex"})
        assert response.status_code == 400, response.content
        assert "organization" in response.json()
    else:
        assert response.status_code == 404, (name, method, response.status_code, response.content)
        assert "globex" not in response.content.decode().lower()
    assert fingerprint(globex) == before
