"""Demo organisation: departments, teams, roles with grants and field restrictions, users of every role."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password

from .models import Department, FieldGrant, ModelGrant, Role, Scope, Team, User

DEMO_PASSWORD = "kehu-demo-2026"  # noqa: S105 - printed by `make run`; demo data only # nosec B105

ALL = ["view", "add", "change", "delete", "import", "export", "transfer"]

_CONFIG = ["sales.pipeline", "sales.closereason", "sales.competitor", "products.pricelist"]
_DEALS = ["sales.lead", "sales.opportunity", "sales.quote", "sales.contract"]

# the sales app's grants per role: deals (leads, opportunities, quotes, contracts) follow the owner; orders are
# read by service; collections (instalments, payments, invoice requests) follow the contract's scope
SALES_GRANTS: dict[str, dict] = {
    "sales_manager": {
        **dict.fromkeys(_DEALS, (ALL, Scope.DEPARTMENT, Scope.DEPARTMENT)),
        "sales.order": (["view", "add", "change", "export"], Scope.DEPARTMENT, Scope.DEPARTMENT),
        "sales.instalment": (["view", "add", "change"], Scope.DEPARTMENT, Scope.DEPARTMENT),
        "sales.payment": (["view", "add", "export"], Scope.DEPARTMENT, Scope.DEPARTMENT),
        "sales.invoicerequest": (["view", "add", "change"], Scope.DEPARTMENT, Scope.DEPARTMENT),
        **{m: (["view", "add", "change"], Scope.ALL, Scope.ALL) for m in _CONFIG},
        "sales.assignmentrule": (["view", "add", "change", "delete"], Scope.ALL, Scope.ALL),
        "sales.leadwebform": (["view", "add", "change"], Scope.ALL, Scope.ALL),
        "sales.discountlimit": (["view"], Scope.ALL, Scope.NONE),
        "sales.customerpool": (["view"], Scope.ALL, Scope.NONE),
        "sales.poolentry": (["view", "change"], Scope.ALL, Scope.ALL),
        "sales.recyclerule": (["view", "add", "change"], Scope.ALL, Scope.ALL),
        "sales.claimlimit": (["view"], Scope.ALL, Scope.NONE),
    },
    "sales_rep": {
        **{m: (["view", "add", "change"], Scope.OWN, Scope.OWN) for m in _DEALS},
        "sales.order": (["view", "add"], Scope.OWN, Scope.OWN),
        "sales.instalment": (["view", "add", "change"], Scope.OWN, Scope.OWN),
        "sales.payment": (["view", "add"], Scope.OWN, Scope.OWN),
        "sales.invoicerequest": (["view", "add"], Scope.OWN, Scope.OWN),
        **{m: (["view"], Scope.ALL, Scope.NONE) for m in _CONFIG},
        "sales.customerpool": (["view"], Scope.ALL, Scope.NONE),
        "sales.poolentry": (["view", "change"], Scope.ALL, Scope.ALL),
    },
    "marketer": {
        # campaign responses become leads; marketers see every lead's outcome, change only their own
        "sales.lead": (["view", "add", "change", "import", "export"], Scope.ALL, Scope.OWN),
        "sales.leadwebform": (["view", "add", "change"], Scope.ALL, Scope.ALL),
        "sales.pipeline": (["view"], Scope.ALL, Scope.NONE),
    },
    "service_agent": {
        "sales.order": (["view"], Scope.ALL, Scope.NONE),
        "sales.contract": (["view"], Scope.ALL, Scope.NONE),
    },
    "executive": {
        **{m: (["view", "export"], Scope.ALL, Scope.NONE) for m in [*_DEALS, "sales.order"]},
        **{
            m: (["view"], Scope.ALL, Scope.NONE)
            for m in ["sales.instalment", "sales.payment", "sales.invoicerequest", *_CONFIG]
        },
    },
}

# role code -> (name, {model: (actions, read scope, write scope)}, {model: {field: access}})
ROLES = {
    "sales_manager": (
        "销售经理 Sales manager",
        {
            "customers.customer": (ALL, Scope.DEPARTMENT, Scope.DEPARTMENT),
            "products.product": (["view"], Scope.ALL, Scope.NONE),
            "products.installedproduct": (["view", "add", "change"], Scope.DEPARTMENT, Scope.DEPARTMENT),
            "interactions.interaction": (
                ["view", "add", "change", "export"],
                Scope.DEPARTMENT,
                Scope.DEPARTMENT,
            ),
            "interactions.task": (
                ["view", "add", "change", "delete", "transfer"],
                Scope.DEPARTMENT,
                Scope.DEPARTMENT,
            ),
            **SALES_GRANTS["sales_manager"],
        },
        {},
    ),
    "sales_rep": (
        "销售代表 Sales rep",
        {
            "customers.customer": (["view", "add", "change"], Scope.OWN, Scope.OWN),
            "products.product": (["view"], Scope.ALL, Scope.NONE),
            "products.installedproduct": (["view", "add", "change"], Scope.OWN, Scope.OWN),
            "interactions.interaction": (["view", "add", "change"], Scope.OWN, Scope.OWN),
            "interactions.task": (["view", "add", "change"], Scope.OWN, Scope.OWN),
            **SALES_GRANTS["sales_rep"],
        },
        {"customers.customer": {"tax_id": "readonly"}},
    ),
    "marketer": (
        "市场专员 Marketer",
        {
            # every customer visible; changes their own (those they created or imported: owner = creator)
            "customers.customer": (["view", "add", "change", "export", "import"], Scope.ALL, Scope.OWN),
            "products.product": (["view", "add", "change"], Scope.ALL, Scope.ALL),
            "interactions.interaction": (["view", "add"], Scope.ALL, Scope.OWN),
            "interactions.task": (["view", "add", "change"], Scope.OWN, Scope.OWN),
            **SALES_GRANTS["marketer"],
        },
        {"customers.customer": {"notes": "hidden", "tax_id": "hidden"}},
    ),
    "service_agent": (
        "客服专员 Service agent",
        {
            "customers.customer": (["view", "change"], Scope.ALL, Scope.TEAM),
            "products.product": (["view"], Scope.ALL, Scope.NONE),
            "products.installedproduct": (["view", "add", "change"], Scope.ALL, Scope.ALL),
            "interactions.interaction": (["view", "add", "change"], Scope.ALL, Scope.OWN),
            "interactions.task": (["view", "add", "change"], Scope.TEAM, Scope.TEAM),
            **SALES_GRANTS["service_agent"],
        },
        {"customers.customer": {"income_band": "hidden", "tax_id": "hidden", "owner": "readonly"}},
    ),
    "executive": (
        "管理层 Executive",
        {
            "customers.customer": (["view", "export"], Scope.ALL, Scope.NONE),
            "products.product": (["view"], Scope.ALL, Scope.NONE),
            "products.installedproduct": (["view"], Scope.ALL, Scope.NONE),
            "interactions.interaction": (["view"], Scope.ALL, Scope.NONE),
            "interactions.task": (["view"], Scope.ALL, Scope.NONE),
            "core.auditentry": (["view"], Scope.ALL, Scope.NONE),
            **SALES_GRANTS["executive"],
        },
        {},
    ),
}

# The service app's grants (kehu/service): agents work every ticket of their desk (queues decide who takes
# what), handle work orders, parts, contracts and the knowledge base; managers and executives read; sales
# reps see the tickets of their own customers (the ticket scope adds them, registration.py) and open new ones.
_SERVICE_CONFIG = [
    "service.ticketcategory",
    "service.cannedresponse",
    "service.businesscalendar",
    "service.slapolicy",
    "service.queue",
    "service.skill",
    "service.agentprofile",
    "service.routingrule",
    "service.ivrmenu",
    "service.survey",
    "service.careplan",
    "service.sparepart",
    "service.warehouse",
    "service.kbcategory",
]
SERVICE_GRANTS: dict[str, dict] = {
    "service_agent": {
        "service.ticket": (["view", "add", "change", "export", "transfer"], Scope.ALL, Scope.ALL),
        "service.workorder": (["view", "add", "change"], Scope.ALL, Scope.ALL),
        "service.servicecontract": (["view"], Scope.ALL, Scope.NONE),
        "service.calllog": (["view", "add", "change"], Scope.ALL, Scope.ALL),
        "service.calllist": (["view", "change"], Scope.ALL, Scope.ALL),
        "service.stockmove": (["view", "add"], Scope.ALL, Scope.ALL),
        "service.article": (["view", "add", "change"], Scope.ALL, Scope.ALL),
        "service.articlefeedback": (["view", "add"], Scope.ALL, Scope.ALL),
        "service.discussionthread": (["view", "add", "change"], Scope.ALL, Scope.ALL),
        "service.discussionreply": (["view", "add"], Scope.ALL, Scope.ALL),
        "service.surveyresponse": (["view", "add"], Scope.ALL, Scope.ALL),
        "service.inboundmessage": (["view"], Scope.ALL, Scope.NONE),
        **{m: (["view"], Scope.ALL, Scope.NONE) for m in _SERVICE_CONFIG},
        "service.agentprofile": (["view"], Scope.ALL, Scope.NONE),
        "service.cannedresponse": (["view", "add", "change"], Scope.ALL, Scope.ALL),
    },
    "sales_manager": {
        "service.ticket": (["view", "add"], Scope.DEPARTMENT, Scope.NONE),
        "service.servicecontract": (["view", "add", "change"], Scope.DEPARTMENT, Scope.DEPARTMENT),
        "service.workorder": (["view"], Scope.DEPARTMENT, Scope.NONE),
        "service.article": (["view"], Scope.ALL, Scope.NONE),
    },
    "sales_rep": {
        "service.ticket": (["view", "add"], Scope.OWN, Scope.NONE),
        "service.servicecontract": (["view"], Scope.OWN, Scope.NONE),
        "service.article": (["view"], Scope.ALL, Scope.NONE),
    },
    "executive": {
        **{
            m: (["view", "export"], Scope.ALL, Scope.NONE)
            for m in [
                "service.ticket",
                "service.workorder",
                "service.servicecontract",
                "service.surveyresponse",
            ]
        },
        **{m: (["view"], Scope.ALL, Scope.NONE) for m in _SERVICE_CONFIG},
    },
}
for _code, _grants in SERVICE_GRANTS.items():
    ROLES[_code][1].update(_grants)

# username -> (display name, department key, role codes, team)
USERS = {
    "manager": ("王经理 Wang Li", "north", ["sales_manager"], "north-key"),
    "rep1": ("张伟 Zhang Wei", "north", ["sales_rep"], "north-key"),
    "rep2": ("李娜 Li Na", "north", ["sales_rep"], "north-key"),
    "rep3": ("陈静 Chen Jing", "east", ["sales_rep"], "east-smb"),
    "rep4": ("Emily Carter", "east", ["sales_rep"], "east-smb"),
    "marketer": ("刘洋 Liu Yang", "marketing", ["marketer"], None),
    "agent": ("赵敏 Zhao Min", "service", ["service_agent"], "service-desk"),
    "agent2": ("孙强 Sun Qiang", "service", ["service_agent"], "service-desk"),
    "exec": ("周总 Zhou Jun", "hq", ["executive"], None),
}


@dataclass
class OrgResult:
    users: dict[str, User] = field(default_factory=dict)
    owners: list[User] = field(default_factory=list)


def seed_org() -> OrgResult:
    depts = {}
    depts["hq"] = Department.objects.create(name="总部 Head office")
    depts["sales"] = Department.objects.create(name="销售部 Sales", parent=depts["hq"])
    depts["north"] = Department.objects.create(name="华北大区 North region", parent=depts["sales"])
    depts["east"] = Department.objects.create(name="华东大区 East region", parent=depts["sales"])
    depts["marketing"] = Department.objects.create(name="市场部 Marketing", parent=depts["hq"])
    depts["service"] = Department.objects.create(name="客服部 Service", parent=depts["hq"])
    roles = {}
    for code, (name, grants, fields) in ROLES.items():
        role = Role.objects.create(code=code, name=name)
        roles[code] = role
        for model, (actions, read, write) in grants.items():
            ModelGrant.objects.create(
                role=role,
                model=model,
                read_scope=read,
                write_scope=write,
                **{f"can_{a}": True for a in actions},
            )
        for model, restrictions in fields.items():
            for fname, access in restrictions.items():
                FieldGrant.objects.create(role=role, model=model, field=fname, access=access)
    password = make_password(DEMO_PASSWORD)
    result = OrgResult()
    admin = User.objects.create(
        username="admin",
        display_name="系统管理员 Admin",
        is_superuser=True,
        is_staff=True,
        password=password,
        email="admin@kehu.example",
        department=depts["hq"],
    )
    result.users["admin"] = admin
    teams: dict[str, Team] = {}
    for key, dept in (("north-key", "north"), ("east-smb", "east"), ("service-desk", "service")):
        teams[key] = Team.objects.create(
            name={
                "north-key": "华北大客户组 North key accounts",
                "east-smb": "华东中小企业组 East SMB",
                "service-desk": "客服一线 Service desk",
            }[key],
            department=depts[dept],
        )
    for username, (display, dept, role_codes, team) in USERS.items():
        user = User.objects.create(
            username=username,
            display_name=display,
            password=password,
            email=f"{username}@kehu.example",
            department=depts[dept],
        )
        user.roles.set([roles[c] for c in role_codes])
        if team:
            teams[team].members.add(user)
        result.users[username] = user
    depts["north"].manager = result.users["manager"]
    depts["north"].save()
    result.owners = [result.users[u] for u in ("manager", "rep1", "rep2", "rep3", "rep4", "agent")]
    return result


# The balanced scorecard (kehu/analytics, issue #11 item 6): administrators define KPIs, targets, entered values,
# links, costs and initiatives (README: the executive reads everything and changes nothing); executives and sales
# managers read the definitions (a manager's scorecard covers their department).
_SCORECARD = ["analytics.kpi", "analytics.kpitarget", "analytics.kpivalue", "analytics.kpilink",
              "analytics.costentry", "analytics.initiative"]  # fmt: skip
ROLES["executive"][1].update({m: (["view", "export"], Scope.ALL, Scope.NONE) for m in _SCORECARD})
ROLES["sales_manager"][1].update({m: (["view"], Scope.ALL, Scope.NONE) for m in _SCORECARD})


# Sales management (kehu/salesmgmt, issue #17): managers make and allocate the plans, reps and executives read them.
_SALESMGMT_PLANS = ["salesmgmt.salesplan"]
ROLES["sales_manager"][1].update(
    {m: (["view", "add", "change", "export"], Scope.ALL, Scope.ALL) for m in _SALESMGMT_PLANS}
)
ROLES["sales_rep"][1].update({m: (["view"], Scope.ALL, Scope.NONE) for m in _SALESMGMT_PLANS})
ROLES["executive"][1].update({m: (["view", "export"], Scope.ALL, Scope.NONE) for m in _SALESMGMT_PLANS})
_SALESMGMT_VISITS = ["salesmgmt.visit"]
ROLES["sales_manager"][1].update(
    {m: (["view", "add", "change", "export"], Scope.DEPARTMENT, Scope.DEPARTMENT) for m in _SALESMGMT_VISITS}
)
ROLES["sales_rep"][1].update(
    {m: (["view", "add", "change"], Scope.OWN, Scope.OWN) for m in _SALESMGMT_VISITS}
)
ROLES["executive"][1].update({m: (["view", "export"], Scope.ALL, Scope.NONE) for m in _SALESMGMT_VISITS})
# Expenses (ADR 0016): reps file their own; managers read and export their department's (and approve as the
# department's manager), keep the categories and close months; executives read everything.
ROLES["sales_rep"][1].update(
    {"salesmgmt.expense": (["view", "add", "change", "delete"], Scope.OWN, Scope.OWN)}
)
ROLES["sales_manager"][1].update(
    {"salesmgmt.expense": (["view", "add", "change", "delete", "export"], Scope.DEPARTMENT, Scope.OWN)}
)
ROLES["executive"][1].update({"salesmgmt.expense": (["view", "export"], Scope.ALL, Scope.NONE)})
for _code, _actions in (
    ("sales_rep", ["view"]),
    ("executive", ["view"]),
    ("sales_manager", ["view", "add", "change", "delete"]),
):
    ROLES[_code][1].update({m: (_actions, Scope.ALL, Scope.ALL if len(_actions) > 1 else Scope.NONE)
                            for m in ("salesmgmt.expensecategory", "salesmgmt.expenseperiodclose")})  # fmt: skip
# Forecast (issue #17 part 3): a manager adjusts the forecasts of the department's reps (the adjustment is the
# rep's record: "transfer" lets the manager name the rep); reps read their own adjustments and snapshots.
_FORECAST = ["salesmgmt.forecastadjustment", "salesmgmt.forecastsnapshot"]
ROLES["sales_manager"][1].update(
    {
        "salesmgmt.forecastadjustment": (
            ["view", "add", "change", "transfer"],
            Scope.DEPARTMENT,
            Scope.DEPARTMENT,
        ),
        "salesmgmt.forecastsnapshot": (["view", "export"], Scope.DEPARTMENT, Scope.NONE),
    }
)
ROLES["sales_rep"][1].update({m: (["view"], Scope.OWN, Scope.NONE) for m in _FORECAST})
ROLES["executive"][1].update({m: (["view", "export"], Scope.ALL, Scope.NONE) for m in _FORECAST})
# Team-level forecast (issue #17 part 3): the grant is on the model; the service narrows it to the teams whose
# reps are all inside the reader's (writer's) rep-level adjustment scope. Reps do not read team figures.
ROLES["sales_manager"][1]["salesmgmt.teamforecastadjustment"] = (
    ["view", "add", "change"],
    Scope.ALL,
    Scope.ALL,
)
ROLES["executive"][1]["salesmgmt.teamforecastadjustment"] = (["view", "export"], Scope.ALL, Scope.NONE)
# Marketing segments (kehu/marketing, issue #9 item 1): marketers build segments over every customer and change
# their own; sales managers and executives read them (members are always counted in the reader's own scope).
_SEGMENTS = ["marketing.segment"]
ROLES["marketer"][1].update(
    {m: (["view", "add", "change", "delete", "export"], Scope.ALL, Scope.OWN) for m in _SEGMENTS}
)
ROLES["sales_manager"][1].update({m: (["view", "add"], Scope.ALL, Scope.OWN) for m in _SEGMENTS})
ROLES["executive"][1].update({m: (["view"], Scope.ALL, Scope.NONE) for m in _SEGMENTS})
# Campaigns (issue #9 items 2–4): marketers plan and run their own and read every campaign; executives approve
# (change right on every campaign, and never their own: four eyes); sales managers read them. Marketers keep the
# do-not-contact list.
_CAMPAIGNS = ["marketing.campaign"]
ROLES["marketer"][1].update(
    {m: (["view", "add", "change", "delete", "export"], Scope.ALL, Scope.OWN) for m in _CAMPAIGNS}
)
ROLES["marketer"][1]["marketing.donotcontact"] = (["view", "add", "delete", "export"], Scope.ALL, Scope.ALL)
ROLES["executive"][1].update({m: (["view", "change", "export"], Scope.ALL, Scope.ALL) for m in _CAMPAIGNS})
ROLES["sales_manager"][1].update({m: (["view"], Scope.ALL, Scope.NONE) for m in _CAMPAIGNS})
# Promotions (issue #9 item 5): marketers define and issue their own and read every promotion; sales reads them
# (a rep uses a customer's code on one of their own orders: that needs the change right on the order, not on the
# promotion); executives read them.
_PROMOTIONS = ["marketing.promotion"]
ROLES["marketer"][1].update(
    {m: (["view", "add", "change", "delete", "export"], Scope.ALL, Scope.OWN) for m in _PROMOTIONS}
)
ROLES["executive"][1].update({m: (["view", "export"], Scope.ALL, Scope.NONE) for m in _PROMOTIONS})
ROLES["sales_manager"][1].update({m: (["view"], Scope.ALL, Scope.NONE) for m in _PROMOTIONS})
ROLES["sales_rep"][1].update({m: (["view"], Scope.ALL, Scope.NONE) for m in _PROMOTIONS})
# segments over purchases and contacts need to see that the history exists (object right; scope stays per record)
ROLES["marketer"][1].setdefault("sales.order", (["view"], Scope.OWN, Scope.NONE))
