from rest_framework.routers import SimpleRouter

from templates_app.api import views

router = SimpleRouter(trailing_slash="/?")
router.register("templates", views.ConfigTemplateViewSet, basename="template")
router.register(
    r"templates/(?P<template_id>[0-9a-fA-F-]{36})/versions", views.TemplateVersionViewSet, basename="template-version"
)

# POST /validation (validate a config, optionally against target gateways) is deployments_app's: deployments_app.api.
urlpatterns = router.urls
