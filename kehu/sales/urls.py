from django.urls import path

from kehu.ui.generic import BulkActionView, RecordDeleteView

from . import views, views_board, views_contracts, views_orders, views_quotes
from .models import AssignmentRule, Lead, Opportunity

app_name = "sales"
urlpatterns = [
    path("leads/", views.LeadList.as_view(), name="leads"),
    path("leads/bulk/", BulkActionView.as_view(model=Lead), name="leads_bulk"),
    path("leads/new/", views.LeadEdit.as_view(), name="lead_create"),
    path("leads/import/", views.LeadImport.as_view(), name="lead_import"),
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
    # quotes, orders, contracts and collections (phase 2, part b)
    path("quotes/", views_quotes.QuoteList.as_view(), name="quotes"),
    path("quotes/new/", views_quotes.QuoteEdit.as_view(), name="quote_create"),
    path("quotes/<int:pk>/", views_quotes.QuoteDetail.as_view(), name="quote"),
    path("quotes/<int:pk>/edit/", views_quotes.QuoteEdit.as_view(), name="quote_edit"),
    path("quotes/<int:pk>/lines/", views_quotes.QuoteLineAdd.as_view(), name="quote_line_add"),
    path("quotes/<int:pk>/pdf/", views_quotes.QuotePdf.as_view(), name="quote_pdf"),
    path("quotes/<int:pk>/<str:action>/", views_quotes.QuoteAction.as_view(), name="quote_action"),
    path("quote-lines/<int:pk>/", views_quotes.QuoteLineEdit.as_view(), name="quote_line_edit"),
    path("quote-approvals/<int:pk>/", views_quotes.QuoteDecide.as_view(), name="quote_decide"),
    path(
        "opportunities/<int:pk>/quote/",
        views_quotes.QuoteFromOpportunity.as_view(),
        name="quote_from_opportunity",
    ),
    path("orders/", views_orders.OrderList.as_view(), name="orders"),
    path("orders/new/", views_orders.OrderCreate.as_view(), name="order_create"),
    path("orders/<int:pk>/", views_orders.OrderDetail.as_view(), name="order"),
    path("orders/<int:pk>/edit/", views_orders.OrderEdit.as_view(), name="order_edit"),
    path("orders/<int:pk>/status/", views_orders.OrderStatusView.as_view(), name="order_status"),
    path("orders/<int:pk>/return/", views_orders.OrderReturn.as_view(), name="order_return"),
    path("contracts/", views_contracts.ContractList.as_view(), name="contracts"),
    path("contracts/new/", views_contracts.ContractEdit.as_view(), name="contract_create"),
    path("contracts/<int:pk>/", views_contracts.ContractDetail.as_view(), name="contract"),
    path("contracts/<int:pk>/edit/", views_contracts.ContractEdit.as_view(), name="contract_edit"),
    path("contracts/<int:pk>/status/", views_contracts.ContractStatusView.as_view(), name="contract_status"),
    path("contracts/<int:pk>/plan/", views_contracts.InstalmentPlan.as_view(), name="contract_plan"),
    path("contracts/<int:pk>/payments/", views_contracts.PaymentCreate.as_view(), name="contract_payment"),
    path("contracts/<int:pk>/invoices/", views_contracts.InvoiceCreate.as_view(), name="contract_invoice"),
    path(
        "contracts/from-quote/<int:pk>/",
        views_contracts.ContractFromQuote.as_view(),
        name="contract_from_quote",
    ),
    path("receivables/", views_contracts.Receivables.as_view(), name="receivables"),
    # the kanban board (phase 2, part a)
    path("board/", views_board.BoardView.as_view(), name="board"),
    path("board/<int:pk>/", views_board.BoardView.as_view(), name="board_pipeline"),
    path("board/<int:pk>/totals/", views_board.BoardTotals.as_view(), name="board_totals"),
    path("board/<int:pk>/stages/<int:stage_pk>/cards/", views_board.BoardCards.as_view(), name="board_cards"),
]

# public and private pools (公海 / 私海)
from . import views_pools  # noqa: E402

urlpatterns += [
    path("pools/", views_pools.PoolIndex.as_view(), name="pools"),
    path("pools/<int:pk>/", views_pools.PoolDetail.as_view(), name="pool"),
    path("pools/<int:pk>/claim/<int:customer_pk>/", views_pools.PoolClaim.as_view(), name="pool_claim"),
    path("pools/<int:pk>/assign/<int:customer_pk>/", views_pools.PoolAssign.as_view(), name="pool_assign"),
    path("pools/release/<int:customer_pk>/", views_pools.PoolRelease.as_view(), name="pool_release"),
]

# contract attachments
from . import views_attachments  # noqa: E402

urlpatterns += [
    path(
        "contracts/<int:pk>/attachments/",
        views_attachments.ContractAttachmentUpload.as_view(),
        name="contract_attachment_add",
    ),
    path(
        "contract-attachments/<int:pk>/",
        views_attachments.ContractAttachmentDownload.as_view(),
        name="contract_attachment",
    ),
    path(
        "contract-attachments/<int:pk>/delete/",
        views_attachments.ContractAttachmentDelete.as_view(),
        name="contract_attachment_delete",
    ),
]

# configuration of the public pools (admins)
from . import views_pool_config as pool_config  # noqa: E402
from .models import ClaimLimit, RecycleRule  # noqa: E402

urlpatterns += [
    path("pool-settings/", pool_config.PoolConfigList.as_view(), name="pool_settings"),
    path("pool-settings/new/", pool_config.PoolConfigEdit.as_view(), name="pool_setting_create"),
    path("pool-settings/<int:pk>/", pool_config.PoolConfigDetail.as_view(), name="pool_setting"),
    path("pool-settings/<int:pk>/edit/", pool_config.PoolConfigEdit.as_view(), name="pool_setting_edit"),
    path("recycle-rules/", pool_config.RecycleRuleList.as_view(), name="recycle_rules"),
    path("recycle-rules/new/", pool_config.RecycleRuleEdit.as_view(), name="recycle_rule_create"),
    path("recycle-rules/<int:pk>/", pool_config.RecycleRuleDetail.as_view(), name="recycle_rule"),
    path("recycle-rules/<int:pk>/edit/", pool_config.RecycleRuleEdit.as_view(), name="recycle_rule_edit"),
    path(
        "recycle-rules/<int:pk>/delete/",
        RecordDeleteView.as_view(model=RecycleRule, success_url_name="sales:recycle_rules"),
        name="recycle_rule_delete",
    ),
    path("claim-limits/", pool_config.ClaimLimitList.as_view(), name="claim_limits"),
    path("claim-limits/new/", pool_config.ClaimLimitEdit.as_view(), name="claim_limit_create"),
    path("claim-limits/<int:pk>/", pool_config.ClaimLimitDetail.as_view(), name="claim_limit"),
    path("claim-limits/<int:pk>/edit/", pool_config.ClaimLimitEdit.as_view(), name="claim_limit_edit"),
    path(
        "claim-limits/<int:pk>/delete/",
        RecordDeleteView.as_view(model=ClaimLimit, success_url_name="sales:claim_limits"),
        name="claim_limit_delete",
    ),
]
