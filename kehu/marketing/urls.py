from django.urls import path

from kehu.ui.generic import BulkActionView

from . import views_campaigns as campaigns
from . import views_promotions as promotions
from . import views_segments as segments
from .models import Campaign, Promotion, Segment

app_name = "marketing"
urlpatterns = [
    path("segments/", segments.SegmentList.as_view(), name="segments"),
    path("segments/bulk/", BulkActionView.as_view(model=Segment), name="segments_bulk"),
    path("segments/new/", segments.segment_builder, name="segment_create"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", segments.SegmentDetail.as_view(), name="segment"),
    path("segments/<int:pk>/edit/", segments.segment_builder, name="segment_edit"),
    path("segments/<int:pk>/delete/", segments.SegmentDelete.as_view(), name="segment_delete"),
    path("segments/<int:pk>/snapshot/", segments.segment_snapshot, name="segment_snapshot"),
    path("campaigns/", campaigns.CampaignList.as_view(), name="campaigns"),
    path("campaigns/bulk/", BulkActionView.as_view(model=Campaign), name="campaigns_bulk"),
    path("campaigns/new/", campaigns.CampaignFormView.as_view(), name="campaign_create"),
    path("campaigns/<int:pk>/", campaigns.CampaignDetail.as_view(), name="campaign"),
    path("campaigns/<int:pk>/edit/", campaigns.CampaignFormView.as_view(), name="campaign_edit"),
    path("campaigns/<int:pk>/steps/", campaigns.step_add, name="campaign_step"),
    path("campaigns/<int:pk>/<str:action>/", campaigns.campaign_action, name="campaign_action"),
    path("promotions/", promotions.PromotionList.as_view(), name="promotions"),
    path("promotions/bulk/", BulkActionView.as_view(model=Promotion), name="promotions_bulk"),
    path("promotions/new/", promotions.PromotionFormView.as_view(), name="promotion_create"),
    path("promotions/<int:pk>/", promotions.PromotionDetail.as_view(), name="promotion"),
    path("promotions/<int:pk>/edit/", promotions.PromotionFormView.as_view(), name="promotion_edit"),
    path("promotions/<int:pk>/issue/", promotions.promotion_issue, name="promotion_issue"),
    path("coupons/redeem/", promotions.coupon_redeem, name="coupon_redeem"),
]
