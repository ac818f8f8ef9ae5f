from django.urls import re_path
from rest_framework.routers import SimpleRouter

from deployments_app.api.comparison import DeploymentComparisonView, VersionComparisonView
from deployments_app.api.validation import ValidationView
from deployments_app.api.views import DeploymentTargetViewSet, DeploymentViewSet, TemplateRollbackViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register(r"deployments/(?P<deployment_pk>[^/.]+)/targets", DeploymentTargetViewSet, basename="deployment-target")

urlpatterns = [
    *router.urls,
    re_path(
        r"^templates/(?P<template_id>[0-9a-fA-F-]{36})/versions/(?P<number>[0-9]+)/rollback/?$",
        TemplateRollbackViewSet.as_view({"post": "create"}),
        name="template-version-rollback",
    ),
    re_path(r"^validation/?$", ValidationView.as_view(), name="validation"),
    re_path(
        r"^deployments/(?P<pk>[0-9a-fA-F-]{36})/comparison/?$",
        DeploymentComparisonView.as_view(),
        name="deployment-comparison",
    ),
    re_path(
        r"^templates/(?P<template_id>[0-9a-fA-F-]{36})/versions/(?P<number>[0-9]+)/comparison/?$",
        VersionComparisonView.as_view(),
        name="template-version-comparison",
    ),
]
