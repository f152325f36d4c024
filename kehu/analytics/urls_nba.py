"""Next Best Activity pages under /analytics/nba/ (names in the analytics namespace)."""

from django.urls import path

from . import views_nba

urlpatterns = [
    path("nba/", views_nba.worklist, name="nba_worklist"),
    path("nba/decide/", views_nba.decide, name="nba_decide"),
    path("nba/run/", views_nba.run_now, name="nba_run"),
    path("nba/report/", views_nba.report, name="nba_report"),
    path("nba/actions/", views_nba.ActionList.as_view(), name="nba_actions"),
    path("nba/actions/new/", views_nba.ActionEdit.as_view(), name="nba_action_new"),
    path("nba/actions/<int:pk>/", views_nba.ActionEdit.as_view(), name="nba_action_edit"),
    # the initiatives are the scorecard's (cash flows, ROI/NPV/IRR): ranked here, edited there
    path("nba/initiatives/", views_nba.initiatives, name="nba_initiatives"),
]
