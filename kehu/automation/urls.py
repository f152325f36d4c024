from django.urls import path

from . import views

app_name = "automation"

urlpatterns = [
    path("", views.rule_list, name="rules"),
    path("new/", views.rule_edit, name="rule_create"),
    path("<int:pk>/", views.rule_detail, name="rule"),
    path("<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("<int:pk>/switch/", views.rule_switch, name="rule_switch"),
    path("<int:pk>/dry-run/", views.rule_dry_run, name="rule_dry_run"),
]
