from django.urls import path

from kehu.ui.generic import BulkActionView

from . import views, views_layouts
from .models import Department, Team, User

app_name = "core"
urlpatterns = [
    path("users/", views.UserList.as_view(), name="users"),
    path("users/bulk/", BulkActionView.as_view(model=User), name="users_bulk"),
    path("users/new/", views.UserEdit.as_view(), name="user_create"),
    path("users/<int:pk>/", views.UserEdit.as_view(), name="user_edit"),
    path("lockouts/", views.lockouts, name="lockouts"),
    path("departments/", views.DepartmentList.as_view(), name="departments"),
    path("departments/bulk/", BulkActionView.as_view(model=Department), name="departments_bulk"),
    path("departments/new/", views.DepartmentEdit.as_view(), name="department_create"),
    path("departments/<int:pk>/", views.DepartmentEdit.as_view(), name="department_edit"),
    path("teams/", views.TeamList.as_view(), name="teams"),
    path("teams/bulk/", BulkActionView.as_view(model=Team), name="teams_bulk"),
    path("teams/new/", views.TeamEdit.as_view(), name="team_create"),
    path("teams/<int:pk>/", views.TeamEdit.as_view(), name="team_edit"),
    path("roles/", views.roles, name="roles"),
    path("roles/<int:pk>/", views.role_detail, name="role"),
    path("custom-fields/", views.custom_fields, name="customfields"),
    path("tags/", views.tags, name="tags"),
    path("transfer/", views.transfer, name="transfer"),
    path("audit/", views.audit_trail, name="audit"),
    path("layouts/", views_layouts.layout_list, name="layouts"),
    path("layouts/new/", views_layouts.layout_edit, name="layout_create"),
    path("layouts/<int:pk>/", views_layouts.layout_edit, name="layout_edit"),
]
