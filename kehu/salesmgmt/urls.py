from django.urls import path

from . import views

app_name = "salesmgmt"
urlpatterns = [
    path("", views.PlanList.as_view(), name="plans"),
    path("plans/", views.PlanList.as_view(), name="plan_list"),
    path("plans/new/", views.PlanEdit.as_view(), name="plan_create"),
    path("plans/<int:pk>/", views.plan_detail, name="plan"),
    path("plans/<int:pk>/edit/", views.PlanEdit.as_view(), name="plan_edit"),
    path("plans/<int:pk>/figure/", views.plan_company_figure, name="plan_figure"),
    path("plans/<int:pk>/status/", views.plan_status, name="plan_status"),
    path("plans/<int:pk>/rollup/", views.plan_rollup, name="plan_rollup"),
    path("plans/<int:pk>/targets/<int:target_pk>/allocate/", views.target_allocate, name="target_allocate"),
    path("plans/<int:pk>/attainment/", views.plan_attainment, name="plan_attainment"),
]
