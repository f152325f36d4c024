"""Service pages: the agent's queue, ticket list/detail/form (generic views), the conversation (reply, note,
attachments, canned answers), take/assign/status/merge/split/watch, quick entry from the 360° page.
Thin: selectors read, services write; errors become messages and 4xx answers, never 500s."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError, StaleRecordError
from kehu.core.inputs import safe_next
from kehu.core.selectors import get_visible
from kehu.customers.selectors import customer_list
from kehu.ui.generic import Column, RecordFormView, RecordListView

from . import selectors
from .filters import TicketFilter
from .forms import AssignForm, MergeForm, QuickTicketForm, ReplyForm, SplitForm, TicketForm
from .models import Availability, MessageKind, Queue, Ticket, TicketStatus
from .services import attachments as files
from .services import conversation, routing, tickets
from .services.common import TicketTaken


def _need(request, action: str, model=Ticket) -> None:
    if not Access.of(request.user).can(action, model):
        raise PermissionDenied(_("You do not have access to this page."))


def _error_text(exc) -> str:
    if isinstance(exc, StaleRecordError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc) or _("Not allowed.")


class TicketList(RecordListView):
    model = Ticket
    title = gettext_lazy("Tickets")
    template_name = "service/ticket_list.html"
    columns = [
        Column("id", gettext_lazy("No."), "id", link=True),
        Column("subject", gettext_lazy("Subject"), "subject", link=True),
        Column("customer", gettext_lazy("Customer"), "customer__name"),
        Column("status", gettext_lazy("Status"), "status"),
        Column("priority", gettext_lazy("Priority"), "priority"),
        Column("queue", gettext_lazy("Queue"), "queue__name"),
        Column("owner", gettext_lazy("Assigned to"), "owner__username"),
        Column("sla", gettext_lazy("SLA"), "sla_next_due", template="service/cell_sla.html"),
        Column("created_at", gettext_lazy("Opened"), "created_at"),
    ]
    filterset_class = TicketFilter
    search_fields = ("subject", "requester_email", "requester_name")
    default_sort = "-created_at"
    select_related = ("customer", "owner", "queue")
    create_url_name = "service:ticket_create"
    detail_url_name = "service:ticket"
    export_fields = [
        "subject",
        "kind",
        "status",
        "priority",
        "channel",
        "requester_name",
        "requester_email",
        "first_response_due",
        "resolution_due",
        "first_responded_at",
        "resolved_at",
        "created_at",
    ]

    def search(self, qs, term: str):
        if term.lstrip("#").isdigit():
            return qs.filter(pk=int(term.lstrip("#")))
        return super().search(qs, term)


class TicketEdit(RecordFormView):
    model = Ticket
    form_class = TicketForm
    select_related = ("customer", "contact", "installed_product")

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def build_form(self, obj, data=None):
        form = super().build_form(obj, data)
        if obj is None and data is None:
            for key in ("customer", "contact"):
                if self.request.GET.get(key, "").isdigit():
                    form.initial[key] = self.request.GET[key]
        return form

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            return tickets.ticket_create(data=data, by=self.request.user)
        return tickets.ticket_update(
            ticket=obj, data=data, by=self.request.user, expected_version=form.cleaned_data.get("version")
        )


def ticket_detail(request, pk):
    _need(request, "view")
    ticket = selectors.ticket_detail(user=request.user, pk=pk)
    access = Access.of(request.user)
    can_write = access.can("change", Ticket) and access.can_write_record(ticket)
    items = selectors.conversation(ticket=ticket)
    hidden = access.hidden_fields(Ticket)

    return render(
        request,
        "service/ticket_detail.html",
        {
            "title": str(ticket),
            "object": ticket,
            "conversation": items,
            "hidden": hidden,
            "can_write": can_write,
            "can_assign": can_write and not access.readonly_fields(Ticket) >= {"owner"},
            "reply_form": ReplyForm(initial={"version": ticket.version}),
            "assign_form": AssignForm(initial={"owner": ticket.owner_id}),
            "merge_form": MergeForm(),
            "split_form": SplitForm(messages=[m for m in items if m.kind == MessageKind.CUSTOMER]),
            "canned": list(selectors.canned_responses(user=request.user)[:100]),
            "sla_events": selectors.sla_history(ticket=ticket),
            "sla_state": selectors.sla_state(ticket),
            "history": _history(ticket, request.user, hidden),
            "watching": ticket.watchers.filter(pk=request.user.pk).exists(),
            "statuses": [
                (s, TicketStatus(s).label) for s in sorted(tickets.TRANSITIONS[TicketStatus(ticket.status)])
            ],
        },
    )


def _history(ticket: Ticket, user, hidden: set[str]) -> list:
    from kehu.core.history import present
    from kehu.core.selectors import record_history

    return present(record_history(ticket, user=user)[:30], model=Ticket, user=user, hidden=hidden)


def _ticket(request, pk) -> Ticket:
    _need(request, "view")
    return get_visible(selectors.ticket_list(user=request.user), user=request.user, pk=pk)


def _back(request, ticket: Ticket):
    return redirect(safe_next(request, ticket.get_absolute_url()))


@require_POST
def ticket_take(request, pk):
    ticket = _ticket(request, pk)
    try:
        tickets.ticket_take(ticket=ticket, by=request.user)
    except TicketTaken as exc:
        if request.headers.get("HX-Request"):
            return HttpResponse(
                f'<span class="msg msg-error" role="alert">{_escape(str(exc))}</span>', status=409
            )
        messages.error(request, str(exc))
        return _back(request, ticket)
    except (BusinessRuleError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
        return _back(request, ticket)
    if request.headers.get("HX-Request"):
        return HttpResponse(
            f'<a class="btn small primary" href="{ticket.get_absolute_url()}" data-testid="taken">{_escape(_("Taken: open"))}</a>'
        )
    messages.success(request, _("You took ticket #%(pk)s.") % {"pk": ticket.pk})
    return redirect(ticket.get_absolute_url())


def _escape(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


@require_POST
def ticket_assign(request, pk):
    ticket = _ticket(request, pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an agent."))
        return _back(request, ticket)
    try:
        tickets.ticket_assign(ticket=ticket, to=form.cleaned_data["owner"], by=request.user)
        messages.success(request, _("Assignment saved."))
    except (BusinessRuleError, PermissionDenied, StaleRecordError) as exc:
        messages.error(request, _error_text(exc))
    return _back(request, ticket)


@require_POST
def ticket_status(request, pk):
    ticket = _ticket(request, pk)
    version = request.POST.get("version", "")
    try:
        tickets.ticket_set_status(
            ticket=ticket,
            status=request.POST.get("status", ""),
            by=request.user,
            expected_version=int(version) if version.isdigit() else None,
        )
        messages.success(request, _("Status changed to %(s)s.") % {"s": ticket.get_status_display()})
    except (BusinessRuleError, PermissionDenied, StaleRecordError) as exc:
        messages.error(request, _error_text(exc))
    return _back(request, ticket)


@require_POST
def ticket_message(request, pk):
    """Reply or note (with attachments); a canned answer fills the text in the browser."""
    ticket = _ticket(request, pk)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
        return _back(request, ticket)
    data = form.cleaned_data
    try:
        uploads = files.from_uploads(data["files"])
        if data["kind"] == MessageKind.NOTE:
            conversation.ticket_note(ticket=ticket, body=data["body"], by=request.user, attachments=uploads)
            messages.success(request, _("Note added."))
        else:
            conversation.ticket_reply(
                ticket=ticket,
                body=data["body"],
                by=request.user,
                attachments=uploads,
                cc=form.cc_list(),
                then_status=data.get("then_status") or "",
                expected_version=data.get("version"),
            )
            messages.success(request, _("Reply sent."))
    except (ValidationError, BusinessRuleError, PermissionDenied, StaleRecordError) as exc:
        messages.error(request, _error_text(exc))
        return render(
            request,
            "service/reply_error.html",
            {"object": ticket, "form": form, "error": _error_text(exc), "title": str(ticket)},
            status=409 if isinstance(exc, StaleRecordError) else 400,
        )
    return redirect(ticket.get_absolute_url() + "#conversation-end")


def canned_text(request, pk, canned_pk):
    """The text of a canned answer filled for this ticket (htmx inserts it into the reply box)."""
    ticket = _ticket(request, pk)
    canned = get_visible(selectors.canned_responses(user=request.user), user=request.user, pk=canned_pk)
    return HttpResponse(
        conversation.canned_render(canned=canned, ticket=ticket, by=request.user), content_type="text/plain"
    )


@require_POST
def ticket_merge(request, pk):
    ticket = _ticket(request, pk)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the number of the ticket to merge into."))
        return _back(request, ticket)
    target = get_visible(
        selectors.ticket_list(user=request.user), user=request.user, pk=form.cleaned_data["target"]
    )
    try:
        merged = tickets.ticket_merge(source=ticket, target=target, by=request.user)
    except (BusinessRuleError, PermissionDenied, StaleRecordError) as exc:
        messages.error(request, _error_text(exc))
        return _back(request, ticket)
    messages.success(request, _("Merged into #%(pk)s.") % {"pk": merged.pk})
    return redirect(merged.get_absolute_url())


@require_POST
def ticket_split(request, pk):
    ticket = _ticket(request, pk)
    form = SplitForm(request.POST, messages=selectors.conversation(ticket=ticket))
    if not form.is_valid():
        messages.error(request, _("Choose the messages to split off."))
        return _back(request, ticket)
    try:
        new = tickets.ticket_split(
            ticket=ticket,
            message_ids=form.cleaned_data["messages"],
            subject=form.cleaned_data["subject"],
            by=request.user,
        )
    except (BusinessRuleError, PermissionDenied, ValidationError) as exc:
        messages.error(request, _error_text(exc))
        return _back(request, ticket)
    messages.success(request, _("Split into ticket #%(pk)s.") % {"pk": new.pk})
    return redirect(new.get_absolute_url())


@require_POST
def ticket_watch(request, pk):
    ticket = _ticket(request, pk)
    tickets.ticket_watch(
        ticket=ticket, user=request.user, by=request.user, watch=request.POST.get("watch") == "1"
    )
    return _back(request, ticket)


def attachment_download(request, pk):
    _need(request, "view")
    attachment = selectors.attachment_visible(user=request.user, pk=pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


QUEUE_VIEWS = {"unassigned": gettext_lazy("Unassigned"), "mine": gettext_lazy("My tickets")}


def queue_page(request):
    """The agent's day starts here: my tickets, the unassigned tickets of my queues, one queue."""
    _need(request, "view")
    view = request.GET.get("view", "unassigned")
    queue = None
    if request.GET.get("queue", "").isdigit():
        queue = Queue.objects.filter(pk=int(request.GET["queue"]), active=True).first()
        view = "queue" if view == "queue" else "unassigned"
    elif view not in QUEUE_VIEWS:
        view = "unassigned"
    qs = selectors.queue_tickets(user=request.user, view=view, queue=queue)
    from django.core.paginator import Paginator

    page = Paginator(qs, selectors.QUEUE_PAGE).get_page(request.GET.get("page"))
    profile = getattr(request.user, "agent_profile", None) if hasattr(request.user, "agent_profile") else None
    return render(
        request,
        "service/queue.html",
        {
            "title": _("My queue"),
            "view": view,
            "views": QUEUE_VIEWS.items(),
            "queue": queue,
            "queues": selectors.agent_queues(user=request.user),
            "counts": selectors.queue_counts(user=request.user),
            "page_obj": page,
            "tickets": [(t, selectors.sla_state(t)) for t in page.object_list],
            "profile": profile,
            "availabilities": Availability.choices,
            "can_add": Access.of(request.user).can("add", Ticket),
        },
    )


@require_POST
def availability_set(request):
    try:
        routing.agent_availability_set(
            user=request.user, availability=request.POST.get("availability", ""), by=request.user
        )
    except BusinessRuleError as exc:
        messages.error(request, str(exc))
    return redirect("service:queue")


@require_POST
def quick_ticket(request, customer_pk):
    """Open a ticket from the customer's 360° page (the panel's quick form: the second click)."""
    _need(request, "add")
    customer = get_visible(customer_list(user=request.user), user=request.user, pk=customer_pk)
    from kehu.products.selectors import units_of

    units = list(units_of(user=request.user, customer=customer).select_related("product")[:100])
    form = QuickTicketForm(request.POST, units=units)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect(customer)
    data = form.cleaned_data
    unit = form.units.get(data["installed_product"]) if data["installed_product"] else None
    try:
        ticket = tickets.ticket_create(
            data={
                "subject": data["subject"],
                "kind": data["kind"],
                "priority": data["priority"],
                "channel": data["channel"],
                "customer": customer,
                "installed_product": unit,
            },
            by=request.user,
            message=data["description"],
        )
    except (ValidationError, BusinessRuleError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
        return redirect(customer)
    messages.success(request, _("Ticket #%(pk)s opened.") % {"pk": ticket.pk})
    return redirect(ticket.get_absolute_url())
