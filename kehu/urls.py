from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from kehu.analytics import api as analytics_api
from kehu.analytics import api_value as analytics_value_api
from kehu.approvals import api as approvals_api
from kehu.automation import api as automation_api
from kehu.core import api_views as core_api
from kehu.core import observability
from kehu.customers import api as customers_api
from kehu.integrations import api as integrations_api
from kehu.interactions import api as interactions_api
from kehu.marketing import api as marketing_api
from kehu.privacy import api as privacy_api
from kehu.products import api as products_api
from kehu.sales import api as sales_api
from kehu.salesmgmt import api as salesmgmt_api
from kehu.security import views as security_views
from kehu.service import api as service_api


def favicon(request):
    # resolved per request: the production storage's manifest exists only after collectstatic
    return HttpResponsePermanentRedirect(static("ui/favicon.svg"))


def healthz(request):
    return JsonResponse({"status": "ok"})


router = DefaultRouter()
for api_module in (
    core_api,
    customers_api,
    products_api,
    interactions_api,
    sales_api,
    service_api,
    salesmgmt_api,
    analytics_api,
    analytics_value_api,
    marketing_api,
    automation_api,
    approvals_api,
    integrations_api,
    privacy_api,
):
    api_module.register(router)

urlpatterns = [
    # the sign-in page with its two-factor step (kehu/security, docs/security.md)
    path("accounts/login/", security_views.SignInView.as_view(), name="login"),
    path("accounts/login/code/", security_views.login_code, name="login_code"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("healthz", healthz),
    path("healthz/ready", observability.health_ready, name="health-ready"),
    path("metrics", observability.metrics, name="metrics"),
    # browsers and bookmarks ask for /favicon.ico whatever the page links
    path("favicon.ico", favicon),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # the split view serves its start-up script as a file: no inline script (Content-Security-Policy)
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="ui/swagger_ui.html"),
        name="api-docs",
    ),
    path("api/", include(router.urls)),
    path("settings/", include("kehu.core.urls")),
    path("share/", include("kehu.core.views_sharing")),
    path("customers/", include("kehu.customers.urls")),
    path("products/", include("kehu.products.urls")),
    path("interactions/", include("kehu.interactions.urls")),
    path("sales/", include("kehu.sales.urls")),
    path("public/", include("kehu.sales.urls_public")),
    path("public/m/", include("kehu.marketing.urls_public")),
    path("service/", include("kehu.service.urls")),
    path("analytics/", include("kehu.analytics.urls")),
    path("marketing/", include("kehu.marketing.urls")),
    path("sales-management/", include("kehu.salesmgmt.urls")),
    path("automation/", include("kehu.automation.urls")),
    path("portal/", include("kehu.portal.urls")),
    path("integrations/", include("kehu.integrations.urls")),
    path("portal-admin/", include("kehu.portal.views_staff")),
    path("approvals/", include("kehu.approvals.urls")),
    path("security/", include("kehu.security.urls")),
    path("privacy/", include("kehu.privacy.views")),
    path("", include("kehu.ui.urls")),
]
