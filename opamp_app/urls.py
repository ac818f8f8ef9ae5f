"""Plain-HTTP routes of the OpAMP endpoint; WebSocket upgrades of the same paths go to routing.py."""

from django.urls import path

from opamp_app import views

urlpatterns = [
    path("v1/opamp", views.opamp_http, name="opamp-http"),  # the spec's default path
    path("api/v1/opamp/v1/opamp", views.opamp_http, name="opamp-http-api"),
]
