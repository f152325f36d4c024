"""Sales pages: leads (list, detail with activities, form, conversion), opportunities (list, detail with stage
history and stage change, form), assignment rules and web forms (configuration). Thin: selectors read,
services write. The kanban board page and the pool pages come in phase 2 (docs/sales-phase2.md)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError, StaleRecordError
from kehu.core.selectors import get_visible
from kehu.customers.models import Customer
from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from . import selectors
from .filters import LeadFilter, OpportunityFilter
from .forms import AssignmentRuleForm, LeadActivityForm, LeadForm, LeadWebFormForm, MoveForm, OpportunityForm
from .models import AssignmentRule, Lead, LeadWebForm, Opportunity
from .services import conversion, lead_import, leads, opportunities


# ------------------------------------------------------------------------------------------------ leads
class LeadList(RecordListView):
    model = Lead
    template_name = "sales/lead_list.html"  # the generic list with an "Import" button
    title = gettext_lazy("Leads")
    columns = [
        Column("company", gettext_lazy("Company"), "company", link=True),
        Column("name", gettext_lazy("Contact name"), "name"),
        Column("status", gettext_lazy("Status"), "status"),
        Column("score", gettext_lazy("Score"), "score"),
        Column("source", gettext_lazy("Source"), "source"),
        Column("owner", gettext_lazy("Owner"), "owner__display_name"),
        Column("first_contact_due", gettext_lazy("First contact due"), "first_contact_due"),
        Column("created_at", gettext_lazy("Created"), "created_at"),
    ]
    filterset_class = LeadFilter
    search_fields = ("company", "name", "phone", "email")
    default_sort = "-created_at"
    select_related = ("owner",)
    create_url_name = "sales:lead_create"
    detail_url_name = "sales:lead"
    export_fields = [
        "kind",
        "company",
        "name",
        "job_title",
        "phone",
        "email",
        "city",
        "source",
        "status",
        "score",
        "budget",
        "currency",
        "need",
    ]


class LeadImport(View):
    """Leads from a CSV file (services.lead_import): all rows or none, each problem with its row number."""

    template_name = "sales/lead_import.html"

    def _check(self, request):
        access = Access.of(request.user)
        if not (access.can("import", Lead) and access.can("add", Lead)):
            raise PermissionDenied(_("You do not have the import right on leads."))

    def get(self, request):
        self._check(request)
        return render(request, self.template_name, {"title": _("Import leads"), "use_rules": True})

    def post(self, request):
        self._check(request)
        upload = request.FILES.get("file")
        use_rules = request.POST.get("use_rules") == "1"
        if upload is None:
            errors, ignored = [_("Choose a CSV file.")], []
        else:
            result = lead_import.leads_import(raw=upload.read(), by=request.user, use_rules=use_rules)
            if not result.errors:
                messages.success(request, _("%(n)d leads imported.") % {"n": len(result.created)})
                if result.ignored_columns:
                    messages.info(
                        request,
                        _("Columns not recognised (left out): %(columns)s")
                        % {"columns": ", ".join(result.ignored_columns)},
                    )
                return redirect("sales:leads")
            errors, ignored = result.errors[:50], result.ignored_columns
        ctx = {"title": _("Import leads"), "errors": errors, "ignored": ignored, "use_rules": use_rules}
        return render(request, self.template_name, ctx, status=400)


class LeadDetail(RecordDetailView):
    model = Lead
    template_name = "sales/lead_detail.html"
    fields = [
        "kind", "company", "name", "job_title", "phone", "email", "city", "region", "product_line", "source",
        "campaign_ref", "status", "disqualify_reason", "disqualify_note", "score", "budget", "currency",
        "decision_maker", "need", "timeframe", "message", "notes", "owner", "assigned_at", "first_contact_due",
        "first_contacted_at", "converted_customer", "converted_opportunity",
    ]  # fmt: skip
    select_related = ("owner", "region", "product_line")
    edit_url_name = "sales:lead_edit"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        lead = ctx["object"]
        ctx["activities"] = list(selectors.lead_activities(user=self.request.user, lead=lead)[:50])
        ctx["activity_form"] = kwargs.get("activity_form") or LeadActivityForm()
        ctx["can_convert"] = ctx["can_write"] and leads.can_convert(self.request.user, lead)
        return ctx


class LeadEdit(RecordFormView):
    model = Lead
    form_class = LeadForm

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            return leads.lead_create(
                data=data, by=self.request.user, use_rules="owner" not in data or data.get("owner") is None
            )
        return leads.lead_update(
            lead=obj, data=data, by=self.request.user, expected_version=form.cleaned_data.get("version")
        )


class LeadActivityCreate(View):
    def post(self, request, pk):
        lead = get_visible(selectors.lead_list(user=request.user), user=request.user, pk=pk)
        form = LeadActivityForm(request.POST)
        if form.is_valid():
            try:
                leads.lead_activity_log(lead=lead, data=form.cleaned_data, by=request.user)
                messages.success(request, _("Logged."))
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.error(
                request,
                _("Check the activity: %(errors)s")
                % {"errors": "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())},
            )
        return redirect(lead.get_absolute_url())


class LeadConvert(View):
    """GET: the conversion page with the existing customers the dedup engine proposes. POST: convert into the
    chosen customer or a new one, with or without an opportunity."""

    template_name = "sales/lead_convert.html"

    def _lead(self, request, pk) -> Lead:
        if not Access.of(request.user).can("change", Lead):
            raise PermissionDenied(_("You do not have access to this page."))
        return get_visible(selectors.lead_list(user=request.user), user=request.user, pk=pk)

    def get(self, request, pk):
        lead = self._lead(request, pk)
        if lead.status == "converted":
            messages.info(request, _("This lead was already converted."))
            return redirect(lead.get_absolute_url())
        return render(request, self.template_name, self._context(request, lead))

    def _context(self, request, lead, error: str = "") -> dict:
        return {
            "object": lead,
            "title": _("Convert lead %(lead)s") % {"lead": lead},
            "candidates": conversion.lead_duplicates(lead=lead, user=request.user),
            "pipelines": list(selectors.pipelines(user=request.user)) or [opportunities.pipeline_default()],
            "error": error,
        }

    def post(self, request, pk):
        lead = self._lead(request, pk)
        choice = request.POST.get("customer", "new")
        customer = None
        if choice not in ("", "new"):
            try:
                customer = get_visible(Customer, user=request.user, pk=int(choice))
            except (ValueError, Http404):
                return render(
                    request,
                    self.template_name,
                    self._context(request, lead, _("Choose a customer from the list.")),
                    status=400,
                )
        opportunity = {}
        if request.POST.get("opportunity_name"):
            opportunity["name"] = request.POST["opportunity_name"]
        if request.POST.get("pipeline", "").isdigit():
            opportunity["pipeline"] = int(request.POST["pipeline"])
        try:
            with transaction.atomic():
                result = conversion.lead_convert(
                    lead=lead,
                    by=request.user,
                    customer=customer,
                    create_customer=choice == "new" and request.POST.get("confirm_new") == "1",
                    create_opportunity=request.POST.get("create_opportunity", "1") == "1",
                    opportunity=opportunity,
                    expected_version=int(request.POST["version"])
                    if request.POST.get("version", "").isdigit()
                    else None,
                )
        except conversion.DuplicateCustomers:
            ctx = self._context(
                request,
                lead,
                _("Customers like this one already exist: choose one of them or confirm a new customer."),
            )
            ctx["ask_confirm"] = True
            return render(request, self.template_name, ctx, status=409)
        except (BusinessRuleError, StaleRecordError) as exc:
            return render(
                request,
                self.template_name,
                self._context(request, lead, str(getattr(exc, "message", exc))),
                status=409,
            )
        except ValidationError as exc:
            return render(
                request, self.template_name, self._context(request, lead, " ".join(exc.messages)), status=400
            )
        messages.success(request, _("Lead converted."))
        target = result.opportunity or result.customer
        return redirect(target.get_absolute_url())


# ------------------------------------------------------------------------------------------- opportunities
class OpportunityList(RecordListView):
    model = Opportunity
    title = gettext_lazy("Opportunities")
    columns = [
        # sortable columns each have an index (column, expected_close_date): no join sorts on 200k deals
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("customer", gettext_lazy("Customer")),
        Column("stage", gettext_lazy("Stage")),
        Column("amount", gettext_lazy("Amount"), "amount"),
        Column("currency", gettext_lazy("Currency")),
        Column("probability", gettext_lazy("Probability (%)"), "probability"),
        Column("expected_close_date", gettext_lazy("Expected close"), "expected_close_date"),
        Column("owner", gettext_lazy("Owner")),
    ]
    filterset_class = OpportunityFilter
    search_fields = ("name", "customer__name")
    default_sort = "expected_close_date"
    select_related = ("customer", "owner", "stage")
    # the rows load what the columns show (not the deal's and its customer's every column: texts, JSON,
    # the customer's search vector)
    list_only = (
        "name",
        "customer",
        "stage",
        "amount",
        "currency",
        "probability",
        "expected_close_date",
        "owner",
    )
    create_url_name = "sales:opportunity_create"
    detail_url_name = "sales:opportunity"
    export_fields = [
        "name",
        "amount",
        "currency",
        "probability",
        "expected_close_date",
        "status",
        "next_step",
    ]


class OpportunityDetail(RecordDetailView):
    model = Opportunity
    template_name = "sales/opportunity_detail.html"
    fields = [
        "name", "customer", "contact", "pipeline", "stage", "status", "amount", "currency", "probability",
        "expected_close_date", "closed_at", "close_reason", "close_note", "lost_to", "source", "next_step",
        "description", "owner", "last_activity_at",
    ]  # fmt: skip
    select_related = ("customer", "contact", "pipeline", "stage", "owner", "close_reason", "lost_to")
    edit_url_name = "sales:opportunity_edit"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        opp = ctx["object"]
        ctx["spells"] = selectors.stage_history(opportunity=opp)
        ctx["stalled"] = opp.is_stalled()
        ctx["lines"] = list(opp.lines.select_related("product"))
        ctx["move_form"] = kwargs.get("move_form") or MoveForm(
            pipeline=opp.pipeline, initial={"stage": opp.stage_id, "version": opp.version}
        )
        return ctx


class OpportunityEdit(RecordFormView):
    model = Opportunity
    form_class = OpportunityForm

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            if data.get("pipeline") is None:
                data.pop("pipeline", None)
            return opportunities.opportunity_create(data=data, by=self.request.user)
        return opportunities.opportunity_update(
            opportunity=obj,
            data=data,
            by=self.request.user,
            expected_version=form.cleaned_data.get("version"),
        )


class OpportunityMove(View):
    """Change the stage from the deal's page (the board does the same through the API)."""

    def post(self, request, pk):
        opp = get_visible(selectors.opportunity_list(user=request.user), user=request.user, pk=pk)
        form = MoveForm(request.POST, pipeline=opp.pipeline)
        if not form.is_valid():
            messages.error(request, _("Choose a stage."))
            return redirect(opp.get_absolute_url())
        try:
            opportunities.opportunity_move(
                opportunity=opp,
                stage=form.cleaned_data["stage"],
                by=request.user,
                expected_version=form.cleaned_data["version"],
                close_reason=form.cleaned_data.get("close_reason"),
                close_note=form.cleaned_data.get("close_note") or "",
                lost_to=form.cleaned_data.get("lost_to"),
            )
            messages.success(request, _("Stage changed."))
        except StaleRecordError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except (BusinessRuleError, PermissionDenied) as exc:
            messages.error(request, str(exc))
        return redirect(opp.get_absolute_url())


# ------------------------------------------------------------------------------------------- configuration
class RuleList(RecordListView):
    model = AssignmentRule
    title = gettext_lazy("Lead assignment rules")
    columns = [
        Column("priority", gettext_lazy("Priority"), "priority"),
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("method", gettext_lazy("Distribution"), "method"),
        Column("region", gettext_lazy("Region"), "region__name"),
        Column("product_line", gettext_lazy("Product line"), "product_line__name"),
        Column("active", gettext_lazy("Active"), "active"),
    ]
    default_sort = "priority"
    select_related = ("region", "product_line")
    create_url_name = "sales:rule_create"
    detail_url_name = "sales:rule"


class RuleDetail(RecordDetailView):
    model = AssignmentRule
    fields = [
        "name",
        "priority",
        "active",
        "region",
        "product_line",
        "source",
        "city",
        "method",
        "users",
        "team",
        "department",
        "sla_hours",
        "last_assignee",
    ]
    edit_url_name = "sales:rule_edit"
    delete_url_name = "sales:rule_delete"


class RuleEdit(RecordFormView):
    model = AssignmentRule
    form_class = AssignmentRuleForm


class WebFormList(RecordListView):
    model = LeadWebForm
    title = gettext_lazy("Lead web forms")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("active", gettext_lazy("Active"), "active"),
        Column("submissions", gettext_lazy("Submissions"), "submissions"),
    ]
    default_sort = "name"
    create_url_name = "sales:webform_create"
    detail_url_name = "sales:webform"


class WebFormDetail(RecordDetailView):
    model = LeadWebForm
    template_name = "sales/webform_detail.html"
    fields = [
        "name",
        "key",
        "active",
        "default_owner",
        "region",
        "product_line",
        "campaign_ref",
        "thank_you",
        "redirect_url",
        "rate_limit",
        "submissions",
    ]
    edit_url_name = "sales:webform_edit"


class WebFormEdit(RecordFormView):
    model = LeadWebForm
    form_class = LeadWebFormForm
