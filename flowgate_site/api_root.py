"""GET /api/v1/: the API's index, in the style of DRF's API root: each resource with a link to it.

`/api/v1/` answered 404, so a newcomer who followed the README's "the API is at /api/v1/" met a dead end. The index
lives in the project (it names every app's routes, which only the project may import) and is authenticated as the
rest of the API is: a stranger learns nothing about it.
"""

from collections import OrderedDict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# (key, URL name, what it is): the collections a client starts from, in the order of docs/api.md.
ENTRIES = [
    ("organizations", "organization-list", "Your organizations."),
    ("settings", "settings-list", "Each organization's settings."),
    ("audit-logs", "auditlog-list", "Who changed what."),
    ("templates", "template-list", "Config templates; their versions are under each template."),
    ("gateways", "gateway-list", "Gateways (created by enrollment)."),
    ("registration-tokens", "registration-token-list", "Tokens that let new gateways enroll."),
    ("agent-tags", "agent-tag-list", "Tags that select gateways."),
    ("deployments", "deployment-list", "Deployments; their targets are under each deployment."),
    ("validation", "validation", "POST: validate a config, optionally against target gateways."),
    ("gateways-register", "gateway-register", "POST: a gateway enrolls (registration token as Bearer)."),
    ("schema", "api-schema", "The OpenAPI schema."),
    ("docs", "api-docs", "Interactive documentation (Swagger UI)."),
]


class ApiRootView(APIView):
    """Links to the API's collections. Default authentication and permissions, as every other endpoint."""

    @extend_schema(
        operation_id="api_root",
        summary="The API's index",
        description="Each collection of the API with its URL: "
        + ", ".join(f"`{key}` ({text})" for key, _name, text in ENTRIES),
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="Resource name → absolute URL."),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Not signed in."),
        },
        tags=["api"],
    )
    def get(self, request):
        return Response(OrderedDict((key, reverse(name, request=request)) for key, name, _text in ENTRIES))
