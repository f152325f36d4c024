"""The navigation of the UI shell: every area of the front-office loop (SPEC.md).

Areas whose app has not landed yet link to an 'arriving' page so users see the whole map from day one.
Each item: (key, label, url name or None, icon, required (action, model label) or None).
"""

from functools import lru_cache

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.access import Access

SECTIONS = [
    (
        _("Customers"),
        [
            ("customers", _("Customers"), "customers:list", "users", ("view", "customers.customer")),
            ("contacts", _("Contacts"), "customers:contacts", "user", ("view", "customers.customer")),
            ("duplicates", _("Duplicates"), "customers:duplicates", "copy", ("change", "customers.customer")),
            ("imports", _("Import"), "customers:imports", "file", ("import", "customers.customer")),
            ("products", _("Products"), "products:list", "box", ("view", "products.product")),
            (
                "installed",
                _("Installed base"),
                "products:units",
                "cpu",
                ("view", "products.installedproduct"),
            ),
        ],
    ),
    (
        _("Interactions"),
        [
            ("approvals", _("Approvals"), "approvals:inbox", "check", None),
            (
                "timeline",
                _("Interactions"),
                "interactions:list",
                "message",
                ("view", "interactions.interaction"),
            ),
            ("tasks", _("Tasks"), "interactions:tasks", "check", ("view", "interactions.task")),
            ("calendar", _("Calendar"), "interactions:calendar", "calendar", ("view", "interactions.task")),
        ],
    ),
    (
        _("Marketing"),
        [
            ("campaigns", _("Campaigns"), "marketing:campaigns", "megaphone", ("view", "marketing.campaign")),
            ("segments", _("Segments"), "marketing:segments", "filter", ("view", "marketing.segment")),
            (
                "promotions",
                _("Promotions"),
                "marketing:promotions",
                "target",
                ("view", "marketing.promotion"),
            ),
        ],
    ),
    (
        _("Sales"),
        [
            ("leads", _("Leads"), "sales:leads", "target", ("view", "sales.lead")),
            (
                "opportunities",
                _("Opportunities"),
                "sales:opportunities",
                "trend",
                ("view", "sales.opportunity"),
            ),
            ("quotes", _("Quotes"), "sales:quotes", "file", ("view", "sales.quote")),
            ("orders", _("Orders"), "sales:orders", "file", ("view", "sales.order")),
            ("contracts", _("Contracts"), "sales:contracts", "file", ("view", "sales.contract")),
            ("receivables", _("Receivables"), "sales:receivables", "file", ("view", "sales.contract")),
            ("pricelists", _("Price lists"), "products:pricelists", "file", ("view", "products.pricelist")),
            (
                "assignment",
                _("Lead assignment"),
                "sales:rules",
                "sliders",
                ("change", "sales.assignmentrule"),
            ),
            ("webforms", _("Lead web forms"), "sales:webforms", "globe", ("change", "sales.leadwebform")),
            ("board", _("Pipeline board"), "sales:board", "trend", ("view", "sales.opportunity")),
            ("pools", _("Customer pools"), "sales:pools", "users", ("view", "sales.customerpool")),
            (
                "poolsettings",
                _("Pool settings"),
                "sales:pool_settings",
                "sliders",
                ("change", "sales.customerpool"),
            ),
            (
                "recyclerules",
                _("Recycle rules"),
                "sales:recycle_rules",
                "sliders",
                ("change", "sales.recyclerule"),
            ),
            (
                "claimlimits",
                _("Claim limits"),
                "sales:claim_limits",
                "sliders",
                ("change", "sales.claimlimit"),
            ),
            ("salesplans", _("Sales plans"), "salesmgmt:plans", "target", ("view", "salesmgmt.salesplan")),
            ("myvisits", _("My visits"), "salesmgmt:my_visits", "calendar", ("view", "salesmgmt.visit")),
            ("teamvisits", _("Team visits"), "salesmgmt:team_visits", "users", ("view", "salesmgmt.visit")),
            # expenses and performance (ADR 0016)
            ("expenses", _("My expenses"), "salesmgmt:expenses", "file", ("view", "salesmgmt.expense")),
            (
                "performance",
                _("Performance"),
                "salesmgmt:performance",
                "chart",
                ("view", "sales.opportunity"),
            ),
            ("salesdash", _("My sales day"), "salesmgmt:dashboard", "gauge", ("view", "sales.opportunity")),
            (
                "teamdash",
                _("Team dashboard"),
                "salesmgmt:team_dashboard",
                "gauge",
                ("change", "salesmgmt.forecastadjustment"),
            ),
            ("forecast", _("Forecast"), "salesmgmt:forecast", "chart", ("view", "sales.opportunity")),
        ],
    ),
    (
        _("Service"),
        [
            ("queue", _("My queue"), "service:queue", "lifebuoy", ("view", "service.ticket")),
            ("tickets", _("Tickets"), "service:tickets", "lifebuoy", ("view", "service.ticket")),
            ("knowledge", _("Knowledge base"), None, "book", None),
        ],
    ),
    (
        _("Analytics"),
        [
            ("dashboard", _("Dashboard"), "analytics:dashboard", "gauge", None),
            ("reports", _("Reports"), "analytics:reports", "chart", None),
            (
                "customer_value",
                _("Customer value"),
                "analytics:home",
                "trend",
                ("view", "customers.customer"),
            ),
            (
                "value_segments",
                _("Value segments"),
                "analytics:value_segments",
                "users",
                ("view", "customers.customer"),
            ),
            ("churn", _("Churn risk"), "analytics:value_at_risk", "trend", ("view", "customers.customer")),
            (
                "scorecard",
                _("Balanced scorecard"),
                "analytics:scorecard",
                "gauge",
                ("view", "customers.customer"),
            ),
        ],
    ),
    (_("Portal"), [("portal", _("Customer portal"), None, "globe", None)]),
]

ADMIN_ITEMS = [
    ("users", _("Users"), "core:users", "user"),
    ("lockouts", _("Sign-in lockouts"), "core:lockouts", "shield"),
    ("signins", _("Sign-in history"), "security:logins", "shield"),
    ("twofactor", _("Two-factor sign-in by role"), "security:roles", "shield"),
    ("departments", _("Departments"), "core:departments", "tree"),
    ("teams", _("Teams"), "core:teams", "users"),
    ("roles", _("Roles & permissions"), "core:roles", "shield"),
    ("customfields", _("Custom fields"), "core:customfields", "sliders"),
    ("layouts", _("Form layouts"), "core:layouts", "sliders"),
    ("tags", _("Tags"), "core:tags", "tag"),
    ("transfer", _("Transfer records"), "core:transfer", "swap"),
    ("audit", _("Audit trail"), "core:audit", "history"),
    ("automation", _("Workflow rules"), "automation:rules", "sliders"),
    ("approval_chains", _("Approval chains"), "approvals:chains", "check"),
    ("api_tokens", _("API tokens"), "integrations:tokens", "shield"),
    ("webhooks", _("Webhooks"), "integrations:webhooks", "swap"),
    ("privacy", _("Privacy requests"), "privacy:requests", "shield"),
]
#: administration items that a role without administration rights may be granted on its own
ADMIN_ITEM_GRANTS = {
    "audit": ("view", "core.auditentry"),
    "automation": ("view", "automation.rule"),
    "approval_chains": ("change", "approvals.approvalchain"),
    "privacy": ("view", "privacy.privacyrequest"),
}


@lru_cache(maxsize=512)
def _reverse(url_name: str, args: tuple, prefix: str, urlconf, root_urlconf) -> str | None:
    try:
        return reverse(url_name, args=list(args) or None, urlconf=urlconf)
    except NoReverseMatch:
        return None


def _url(url_name: str, *args) -> str | None:
    """reverse() of a navigation item, remembered per script prefix and URLconf: the shell shows ~75 links on
    every page, and reversing them was a tenth of a list page's Python time. None when it does not resolve."""
    return _reverse(url_name, args, get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)


def build(user) -> list[dict]:
    access = Access.of(user)
    result = []
    for title, items in SECTIONS:
        entries = []
        for key, label, url_name, icon, required in items:
            if required is not None and not access.can(*required):
                continue
            url = _url(url_name) if url_name else None
            if url is None:
                url = _url("ui:arriving", key)
            entries.append({"key": key, "label": label, "url": url, "icon": icon, "soon": url_name is None})
        if entries:
            result.append({"title": title, "items": entries})
    is_admin = access.is_superuser or access.can("change", "core.role")
    entries = []
    for key, label, url_name, icon in ADMIN_ITEMS:
        if not (is_admin or (key in ADMIN_ITEM_GRANTS and access.can(*ADMIN_ITEM_GRANTS[key]))):
            continue
        url = _url(url_name)
        if url is not None:
            entries.append({"key": key, "label": label, "url": url, "icon": icon})
    if entries:
        result.append({"title": _("Administration"), "items": entries})
    return result
