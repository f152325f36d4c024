from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/", views.request_detail, name="request"),
    path("<int:pk>/decide/", views.request_decide, name="decide"),
    path("chains/", views.chains, name="chains"),
    path("chains/new/", views.chain_edit, name="chain_create"),
    path("chains/<int:pk>/", views.chain_edit, name="chain"),
    path("chains/<int:pk>/delete/", views.chain_delete, name="chain_delete"),
    path("delegations/", views.delegations, name="delegations"),
    path("delegations/<int:pk>/delete/", views.delegation_delete, name="delegation_delete"),
]
