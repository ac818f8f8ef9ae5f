from django.urls import re_path
from rest_framework.routers import SimpleRouter

from templates_app.api import views

router = SimpleRouter(trailing_slash="/?")
router.register("templates", views.ConfigTemplateViewSet, basename="template")
router.register(
    r"templates/(?P<template_id>[0-9a-fA-F-]{36})/versions", views.TemplateVersionViewSet, basename="template-version"
)

urlpatterns = [
    *router.urls,
    re_path(r"^validation/?$", views.ValidationView.as_view(), name="validation"),
]
