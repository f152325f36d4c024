"""Portal pages (phone-first). Thin: read through the portal selectors (scoped), write through the portal
services (which call the owning apps' services as the portal user)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.customers.models import Channel, ConsentStatus
from kehu.sales.models.orders import ORDER_FLOW, OrderStatus
from kehu.service.models import TicketStatus
from kehu.service.services.attachments import from_uploads

from . import selectors, services
from .decorators import portal_required
from .export import export_personal_data
from .forms import CodeForm, DealForm, ProfileForm, RateForm, ReplyForm, TicketForm
from .models import ChangeRequest

CONSENT_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.WECHAT)


def _errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errs in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errs)
    else:
        form.add_error(None, exc.messages)


@portal_required
def home(request):
    user = request.user
    open_tickets = selectors.tickets(user=user).exclude(
        status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED]
    )
    return render(
        request,
        "portal/home.html",
        {
            "orders": list(selectors.orders(user=user)[:5]),
            "open_tickets": list(open_tickets[:5]),
            "unit_count": selectors.units(user=user).count(),
        },
    )


# ------------------------------------------------------------------------------------------------ account
@portal_required
def account(request):
    profile = request.profile
    person = selectors.customers(user=request.user).get(pk=profile.person.pk)
    form = ProfileForm(request.POST or None, instance=person)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.profile_change(
                profile=profile, data={k: form.data.get(k, "") for k in form.fields}
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            if result is None:
                messages.info(request, _("Nothing changed."))
            elif isinstance(result, ChangeRequest):
                messages.success(
                    request, _("Thank you: your change was sent to us and will be applied once checked.")
                )
            else:
                messages.success(request, _("Your details are saved."))
            return redirect("portal:account")
    account = selectors.customers(user=request.user).get(pk=profile.customer_id)
    return render(
        request,
        "portal/account.html",
        {
            "form": form,
            "person": person,
            "account": account,
            "contacts": list(selectors.contacts_of(user=request.user, account=account)),
            "pending": list(
                ChangeRequest.objects.filter(customer=person, status=ChangeRequest.Status.PENDING)
            ),
            "direct": settings.KEHU_PORTAL_PROFILE_EDIT == "direct",
        },
    )


# ------------------------------------------------------------------------------------------------ orders
@portal_required
def orders(request):
    return render(request, "portal/orders.html", {"orders": list(selectors.orders(user=request.user)[:200])})


@portal_required
def order(request, pk):
    obj = selectors.order(user=request.user, pk=pk)
    reached = ORDER_FLOW.index(obj.status) if obj.status in ORDER_FLOW else -1
    steps = [
        {"label": OrderStatus(s).label, "done": i <= reached, "current": i == reached}
        for i, s in enumerate(ORDER_FLOW)
    ]
    lines = selectors.order_lines(user=request.user, order=obj)
    return render(request, "portal/order.html", {"order": obj, "lines": lines, "steps": steps})


# ------------------------------------------------------------------------------------------------ products
@portal_required
def units(request):
    today = timezone.localdate()
    return render(
        request,
        "portal/units.html",
        {"units": list(selectors.units(user=request.user)[:200]), "today": today},
    )


@portal_required
def unit(request, pk):
    obj = selectors.unit(user=request.user, pk=pk)
    tickets, work_orders = selectors.unit_history(user=request.user, unit=obj)
    return render(
        request,
        "portal/unit.html",
        {"unit": obj, "tickets": tickets, "work_orders": work_orders, "today": timezone.localdate()},
    )


# ------------------------------------------------------------------------------------------------ billing
@portal_required
def billing(request):
    user = request.user
    return render(
        request,
        "portal/billing.html",
        {
            "invoices": list(selectors.invoices(user=user)[:100]),
            "payments": list(selectors.payments(user=user)[:100]),
            "contracts": list(selectors.contracts(user=user)[:100]),
        },
    )


# ------------------------------------------------------------------------------------------------ tickets
@portal_required
def tickets(request):
    return render(
        request, "portal/tickets.html", {"tickets": list(selectors.tickets(user=request.user)[:200])}
    )


@portal_required
def ticket_new(request):
    form = TicketForm(request.POST or None, units=selectors.units(user=request.user))
    if request.method == "POST" and form.is_valid():
        try:
            files = from_uploads(request.FILES.getlist("files"))
            ticket = services.ticket_open(
                profile=request.profile,
                subject=form.cleaned_data["subject"],
                message=form.cleaned_data["message"],
                attachments=files,
                installed_product=form.cleaned_data["installed_product"],
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("Ticket #%(pk)s is open. We will answer soon.") % {"pk": ticket.pk})
            return redirect("portal:ticket", pk=ticket.pk)
    return render(request, "portal/ticket_new.html", {"form": form}, status=400 if form.errors else 200)


@portal_required
def ticket(request, pk):
    obj = selectors.ticket(user=request.user, pk=pk)
    reply = ReplyForm(request.POST or None)
    if request.method == "POST" and reply.is_valid():
        try:
            files = from_uploads(request.FILES.getlist("files"))
            services.ticket_reply(
                profile=request.profile, ticket=obj, body=reply.cleaned_data["body"], attachments=files
            )
        except ValidationError as exc:
            _errors(reply, exc)
        else:
            messages.success(request, _("Your message is sent."))
            return redirect("portal:ticket", pk=obj.pk)
    from kehu.service.models import SurveyResponse

    rated = SurveyResponse.objects.filter(ticket=obj, status="answered").first()
    return render(
        request,
        "portal/ticket.html",
        {
            "ticket": obj,
            "thread": selectors.ticket_thread(user=request.user, ticket=obj),
            "reply": reply,
            "rate": RateForm(),
            "rated": rated,
            "can_close": obj.status != TicketStatus.CLOSED,
            "can_rate": rated is None and obj.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED),
        },
        status=400 if reply.errors else 200,
    )


@require_POST
@portal_required
def ticket_close(request, pk):
    obj = selectors.ticket(user=request.user, pk=pk)
    services.ticket_close(profile=request.profile, ticket=obj)
    messages.success(request, _("The ticket is closed. Please tell us how we did."))
    return redirect("portal:ticket", pk=obj.pk)


@require_POST
@portal_required
def ticket_rate(request, pk):
    obj = selectors.ticket(user=request.user, pk=pk)
    form = RateForm(request.POST)
    if form.is_valid():
        try:
            services.ticket_rate(
                profile=request.profile,
                ticket=obj,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Thank you for your rating."))
    else:
        messages.error(request, _("Choose 1 to 5 stars."))
    return redirect("portal:ticket", pk=obj.pk)


@portal_required
def attachment(request, pk):
    obj = selectors.attachment(user=request.user, pk=pk)
    try:
        handle = obj.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, filename=obj.filename, content_type=obj.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ------------------------------------------------------------------------------------------------ knowledge
@portal_required
def kb(request):
    q = request.GET.get("q", "").strip()[:100]
    return render(
        request, "portal/kb.html", {"articles": list(selectors.articles(user=request.user, q=q)[:50]), "q": q}
    )


@portal_required
def article(request, pk):
    return render(request, "portal/article.html", {"article": selectors.article(user=request.user, pk=pk)})


# ------------------------------------------------------------------------------------------------ preferences
@portal_required
def preferences(request):
    profile = request.profile
    person = selectors.customers(user=request.user).get(pk=profile.person.pk)
    if request.method == "POST":
        for channel in CONSENT_CHANNELS:
            services.consent_set(profile=profile, channel=channel, granted=request.POST.get(channel) == "on")
        messages.success(request, _("Your preferences are saved."))
        return redirect("portal:preferences")
    current = person.consent or {}
    rows = [
        {"channel": c, "label": c.label, "granted": current.get(c, {}).get("status") == ConsentStatus.GRANTED}
        for c in CONSENT_CHANNELS
    ]
    history = list(selectors.consent_history(user=request.user, person=person)[:50])
    return render(request, "portal/preferences.html", {"rows": rows, "history": history})


# ------------------------------------------------------------------------------------------------ privacy
@portal_required
def privacy(request):
    if request.method == "POST":
        data = export_personal_data(request.profile.customer)
        services.activity_record(
            profile=request.profile, action="export", summary=_("downloaded their personal data")
        )
        response = HttpResponse(data, content_type="application/zip")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="personal-data-{stamp}.zip"'
        return response
    return render(request, "portal/privacy.html", {})


# ------------------------------------------------------------------------------------------------ security
@portal_required
def security(request):
    profile = request.profile
    password = PasswordChangeForm(
        request.user, request.POST if request.POST.get("form") == "password" else None
    )
    code = CodeForm(request.POST if request.POST.get("form") in ("totp_on", "totp_off") else None)
    secret = None
    if request.method == "POST":
        action = request.POST.get("form")
        if action == "password" and password.is_valid():
            password.save()
            update_session_auth_hash(request, password.user)
            services.activity_record(profile=profile, action="password", summary=_("changed their password"))
            messages.success(request, _("Your password is changed."))
            return redirect("portal:security")
        if action == "totp_start":
            secret = services.totp_begin(profile=profile)
        elif action in ("totp_on", "totp_off") and code.is_valid():
            try:
                if action == "totp_on":
                    services.totp_confirm(profile=profile, code=code.cleaned_data["code"])
                    messages.success(request, _("Two-step sign-in is on."))
                else:
                    services.totp_disable(profile=profile, code=code.cleaned_data["code"])
                    messages.success(request, _("Two-step sign-in is off."))
                return redirect("portal:security")
            except ValidationError as exc:
                _errors(code, exc)
                secret = profile.totp_secret if action == "totp_on" else None
    uri = qr = None
    if secret:
        from kehu.security import totp

        uri = totp.provisioning_uri(secret, account=request.user.email)
        qr = totp.qr_data_uri(uri)
    return render(
        request,
        "portal/security.html",
        {"password": password, "code": code, "secret": secret, "uri": uri, "qr": qr, "profile": profile},
    )


# ------------------------------------------------------------------------------------------------ partners
@portal_required
def deals(request):
    if not request.profile.is_partner:
        raise Http404
    return render(request, "portal/deals.html", {"leads": list(selectors.leads(user=request.user)[:200])})


@portal_required
def deal_new(request):
    if not request.profile.is_partner:
        raise Http404
    form = DealForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registration = services.deal_register(profile=request.profile, data=form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            _errors(form, exc if isinstance(exc, ValidationError) else ValidationError(str(exc)))
        else:
            if registration.conflict_note:
                messages.warning(
                    request,
                    _("Registered, with a conflict we will review: %(why)s")
                    % {"why": registration.conflict_note},
                )
            else:
                messages.success(request, _("Deal registered. Our sales team will contact you."))
            return redirect("portal:deals")
    return render(request, "portal/deal_new.html", {"form": form}, status=400 if form.errors else 200)
