"""The public lead form (no sign-in): embeddable in an iframe on the company's website.

CSRF is off for this one view on purpose: the form is posted from other sites' pages (an iframe or a plain
HTML form), no session or user is involved, and abuse is limited by the honeypot and the per-IP rate limit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from .forms import PublicLeadForm
from .models import LeadWebForm
from .services.webforms import web_form_submit


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


@csrf_exempt
@xframe_options_exempt
def lead_form(request, key: str):
    form_config = LeadWebForm.objects.filter(key=key, active=True).select_related("default_owner").first()
    if form_config is None:
        raise Http404
    context = {"config": form_config, "done": False}
    if request.method != "POST":
        context["form"] = PublicLeadForm()
        return render(request, "sales/public_lead_form.html", context)
    form = PublicLeadForm(request.POST)
    if (request.POST.get("website") or "").strip():
        # a bot filled the honeypot: answer like a success, store nothing
        context.update(done=True, message=form_config.thank_you or _("Thank you! We will contact you soon."))
        return render(request, "sales/public_lead_form.html", context)
    if not form.is_valid():
        context["form"] = form
        return render(request, "sales/public_lead_form.html", context, status=400)
    try:
        result = web_form_submit(form=form_config, data=form.cleaned_data, ip=_client_ip(request))
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        context["form"] = form
        return render(request, "sales/public_lead_form.html", context, status=400)
    if result.limited:
        context["form"] = form
        context["error"] = _("Too many submissions from your network. Please try again later.")
        return render(request, "sales/public_lead_form.html", context, status=429)
    if form_config.redirect_url:
        return redirect(form_config.redirect_url)
    context.update(done=True, message=form_config.thank_you or _("Thank you! We will contact you soon."))
    return render(request, "sales/public_lead_form.html", context)
