from django.urls import path

from kehu.ui.generic import BulkActionView, RecordDeleteView

from . import views
from .models import AssignmentRule, Lead, Opportunity

app_name = "sales"
urlpatterns = [
    path("leads/", views.LeadList.as_view(), name="leads"),
    path("leads/bulk/", BulkActionView.as_view(model=Lead), name="leads_bulk"),
    path("leads/new/", views.LeadEdit.as_view(), name="lead_create"),
    path("leads/<int:pk>/", views.LeadDetail.as_view(), name="lead"),
    path("leads/<int:pk>/edit/", views.LeadEdit.as_view(), name="lead_edit"),
    path("leads/<int:pk>/log/", views.LeadActivityCreate.as_view(), name="lead_log"),
    path("leads/<int:pk>/convert/", views.LeadConvert.as_view(), name="lead_convert"),
    path("opportunities/", views.OpportunityList.as_view(), name="opportunities"),
    path("opportunities/bulk/", BulkActionView.as_view(model=Opportunity), name="opportunities_bulk"),
    path("opportunities/new/", views.OpportunityEdit.as_view(), name="opportunity_create"),
    path("opportunities/<int:pk>/", views.OpportunityDetail.as_view(), name="opportunity"),
    path("opportunities/<int:pk>/edit/", views.OpportunityEdit.as_view(), name="opportunity_edit"),
    path("opportunities/<int:pk>/move/", views.OpportunityMove.as_view(), name="opportunity_move"),
    path("rules/", views.RuleList.as_view(), name="rules"),
    path("rules/new/", views.RuleEdit.as_view(), name="rule_create"),
    path("rules/<int:pk>/", views.RuleDetail.as_view(), name="rule"),
    path("rules/<int:pk>/edit/", views.RuleEdit.as_view(), name="rule_edit"),
    path(
        "rules/<int:pk>/delete/",
        RecordDeleteView.as_view(model=AssignmentRule, success_url_name="sales:rules"),
        name="rule_delete",
    ),
    path("webforms/", views.WebFormList.as_view(), name="webforms"),
    path("webforms/new/", views.WebFormEdit.as_view(), name="webform_create"),
    path("webforms/<int:pk>/", views.WebFormDetail.as_view(), name="webform"),
    path("webforms/<int:pk>/edit/", views.WebFormEdit.as_view(), name="webform_edit"),
]
