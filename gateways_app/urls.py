from django.urls import path

from gateways_app import views

app_name = "gateways"

urlpatterns = [
    path("", views.GatewayListView.as_view(), name="list"),
    path("tokens/", views.RegistrationTokenListView.as_view(), name="tokens"),
    path("tokens/new/", views.RegistrationTokenCreateView.as_view(), name="token-create"),
    path("tokens/<uuid:pk>/revoke/", views.RegistrationTokenRevokeView.as_view(), name="token-revoke"),
    path("<uuid:pk>/", views.GatewayDetailView.as_view(), name="detail"),
    path("<uuid:pk>/edit/", views.GatewayEditView.as_view(), name="edit"),
    path("<uuid:pk>/reissue-token/", views.GatewayTokenView.as_view(operation="reissue"), name="reissue-token"),
    path("<uuid:pk>/revoke-token/", views.GatewayTokenView.as_view(operation="revoke"), name="revoke-token"),
    path("<uuid:pk>/restart/", views.GatewayRestartView.as_view(), name="restart"),
]
