from django.urls import path

from . import views, views_dashboard, views_forecast, views_visits
from .urls_expenses import urlpatterns as expense_urls

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
    path("visits/", views_visits.my_day, name="my_visits"),
    path("visits/team/", views_visits.team_visits, name="team_visits"),
    path("visits/sw.js", views_visits.visits_service_worker, name="visits_sw"),
    path("visits/new/", views_visits.VisitEdit.as_view(), name="visit_create"),
    path("visits/<int:pk>/", views_visits.visit_detail, name="visit"),
    path("visits/<int:pk>/edit/", views_visits.VisitEdit.as_view(), name="visit_edit"),
    path("visits/<int:pk>/check-in/", views_visits.visit_check_in, name="visit_check_in"),
    path("visits/<int:pk>/check-out/", views_visits.visit_check_out, name="visit_check_out"),
    path("visits/<int:pk>/notes/", views_visits.visit_note, name="visit_note"),
    path("visits/<int:pk>/report/", views_visits.visit_report, name="visit_report"),
    path("visits/<int:pk>/photos/", views_visits.visit_photo, name="visit_photo"),
    path("visits/photos/<int:pk>/", views_visits.visit_photo_file, name="visit_photo_file"),
    # forecast and dashboards (ADR 0014 "Forecast and dashboards")
    path("forecast/", views_forecast.forecast_page, name="forecast"),
    path("forecast/categories/", views_forecast.forecast_categories, name="forecast_categories"),
    path("forecast/adjust/", views_forecast.forecast_adjust, name="forecast_adjust"),
    path("forecast/adjust-team/", views_forecast.forecast_adjust_team, name="forecast_adjust_team"),
    path("forecast/deal/<int:pk>/", views_forecast.deal_category, name="forecast_deal_category"),
    path("dashboard/", views_dashboard.my_dashboard, name="dashboard"),
    path("dashboard/team/", views_dashboard.team_dashboard, name="team_dashboard"),
]
urlpatterns += expense_urls  # expenses and performance (ADR 0016)
