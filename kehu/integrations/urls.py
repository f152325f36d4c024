from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook"),
    path("webhooks/<int:pk>/<str:what>/", views.webhook_action, name="webhook_action"),
    path("deliveries/<int:pk>/replay/", views.delivery_replay, name="delivery_replay"),
    path("allowed-hosts/", views.allowed_hosts, name="allowed_hosts"),
]
