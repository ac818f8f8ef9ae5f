"""OTLP/HTTP metrics from gateways: the signal's default path, on the same ports as OpAMP."""

from django.urls import path

from telemetry_app import views

urlpatterns = [
    path("v1/metrics", views.metrics, name="telemetry-metrics"),
]
