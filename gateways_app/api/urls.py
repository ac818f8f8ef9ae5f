"""Routes of the gateways app under /api/v1/. Enrollment comes first: it must win over the
gateways router's detail route."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from gateways_app.api.enrollment import EnrollmentView
from gateways_app.api.heartbeat import HeartbeatView
from gateways_app.api.views import UUID_REGEX, GatewayViewSet, RegistrationTokenViewSet, TagViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("gateways", GatewayViewSet, basename="gateway")
router.register("registration-tokens", RegistrationTokenViewSet, basename="registration-token")
router.register("agent-tags", TagViewSet, basename="agent-tag")

urlpatterns = [
    # With and without the trailing slash, no redirect: agents do not follow redirects on POST.
    re_path(r"^gateways/register/?$", EnrollmentView.as_view(), name="gateway-register"),
    # Authenticated by the gateway's OpAMP token (extension-mode supervisors), not by a user.
    re_path(rf"^gateways/(?P<pk>{UUID_REGEX})/heartbeat/?$", HeartbeatView.as_view(), name="gateway-heartbeat"),
    *router.urls,
]
