"""URLs of the balanced scorecard (/analytics/scorecard/…), joined to the analytics namespace by urls.py."""

from django.urls import path

from kehu.ui.generic import BulkActionView

from . import views_scorecard as v
from .models_scorecard import CostEntry, Initiative, Kpi

urlpatterns = [
    path("scorecard/", v.scorecard_page, name="scorecard"),
    path("scorecard/economics/", v.economics_page, name="scorecard_economics"),
    path("scorecard/kpis/", v.KpiList.as_view(), name="scorecard_kpis"),
    path("scorecard/kpis/bulk/", BulkActionView.as_view(model=Kpi), name="scorecard_kpis_bulk"),
    path("scorecard/kpis/new/", v.KpiEdit.as_view(), name="scorecard_kpi_create"),
    path("scorecard/kpis/<int:pk>/", v.kpi_detail, name="scorecard_kpi_detail"),
    path("scorecard/kpis/<int:pk>/edit/", v.KpiEdit.as_view(), name="scorecard_kpi_edit"),
    path("scorecard/targets/new/", v.TargetEdit.as_view(), name="scorecard_target_create"),
    path("scorecard/targets/<int:pk>/", v.TargetEdit.as_view(), name="scorecard_target_edit"),
    path("scorecard/values/new/", v.ValueEdit.as_view(), name="scorecard_value_create"),
    path("scorecard/values/<int:pk>/", v.ValueEdit.as_view(), name="scorecard_value_edit"),
    path("scorecard/links/", v.links_page, name="scorecard_links"),
    path("scorecard/links/<int:pk>/delete/", v.link_delete, name="scorecard_link_delete"),
    path("scorecard/costs/", v.CostList.as_view(), name="scorecard_costs"),
    path("scorecard/costs/bulk/", BulkActionView.as_view(model=CostEntry), name="scorecard_costs_bulk"),
    path("scorecard/costs/new/", v.CostEdit.as_view(), name="scorecard_cost_create"),
    path("scorecard/costs/<int:pk>/", v.CostEdit.as_view(), name="scorecard_cost_edit"),
    path("scorecard/initiatives/", v.InitiativeList.as_view(), name="scorecard_initiatives"),
    path(
        "scorecard/initiatives/bulk/",
        BulkActionView.as_view(model=Initiative),
        name="scorecard_initiatives_bulk",
    ),
    path("scorecard/initiatives/new/", v.InitiativeEdit.as_view(), name="scorecard_initiative_create"),
    path("scorecard/initiatives/<int:pk>/", v.initiative_detail, name="scorecard_initiative"),
    path(
        "scorecard/initiatives/<int:pk>/edit/", v.InitiativeEdit.as_view(), name="scorecard_initiative_edit"
    ),
]
