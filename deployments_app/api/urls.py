from rest_framework.routers import SimpleRouter

from deployments_app.api.views import DeploymentTargetViewSet, DeploymentViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register(r"deployments/(?P<deployment_pk>[^/.]+)/targets", DeploymentTargetViewSet, basename="deployment-target")

urlpatterns = router.urls
