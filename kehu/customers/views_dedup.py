"""Duplicates review: candidate pairs, side-by-side comparison with per-field choice, merge, dismiss, undo."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError, StaleRecordError
from kehu.core.models import Action

from . import merge as merge_service
from .models import Customer, DuplicateCandidate, MergeRecord
from .selectors import customer_list, customer_list_with_merged


def _require(request, action=Action.CHANGE):
    if not Access.of(request.user).can(action, Customer):
        raise PermissionDenied(_("You do not have the right to review duplicates."))


def visible_candidates(user):
    visible = customer_list(user=user)
    return (
        DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN)
        .filter(first__in=visible.values("pk"), second__in=visible.values("pk"))
        .select_related("first", "second")
        .order_by("-score", "id")
    )


def duplicates(request):
    _require(request)
    page = Paginator(visible_candidates(request.user), 25).get_page(request.GET.get("page"))
    last = DuplicateCandidate.objects.order_by("-found_at").values_list("found_at", flat=True).first()
    hidden = Access.of(request.user).hidden_fields(Customer)
    for pair in page:
        pair.shown_reasons = pair.reason_texts_for(hidden)
    return render(
        request,
        "customers/duplicates.html",
        {
            "page_obj": page,
            "title": _("Duplicates"),
            "last_scan": last,
            "hidden": hidden,
            "can_auto_merge": _may_auto_merge(request.user),
        },
    )


def _may_auto_merge(user) -> bool:
    """Administrators who may delete customers (a merge deletes the merged records)."""
    from kehu.core.models import Role

    access = Access.of(user)
    return access.can(Action.DELETE, Customer) and (access.is_superuser or access.can(Action.CHANGE, Role))


@require_POST
def duplicates_scan(request):
    _require(request)
    from .tasks import find_duplicates

    find_duplicates.enqueue()
    messages.success(request, _("The duplicate scan has started; refresh this page in a moment."))
    return redirect("customers:duplicates")


def _pair(request, pk, *, merged_too: bool = False) -> DuplicateCandidate:
    pair = get_object_or_404(DuplicateCandidate.objects.select_related("first", "second"), pk=pk)
    # merging finds merged records too, so that the merge service refuses them with a clear message
    visible = (customer_list_with_merged if merged_too else customer_list)(user=request.user)
    if visible.filter(pk__in=[pair.first_id, pair.second_id]).count() != 2:
        raise Http404
    return pair


def compare(request, pk):
    _require(request)
    pair = _pair(request, pk)
    a, b = pair.first, pair.second
    hidden = Access.of(request.user).hidden_fields(Customer)
    pair.shown_reasons = pair.reason_texts_for(hidden)
    pair.shown_rows = pair.reason_rows_for(hidden)
    rows = []
    for fname in merge_service.MERGEABLE_FIELDS:
        if fname in hidden:
            continue  # field rights hold on the compare page too: a hidden field is neither shown nor chosen
        field = Customer._meta.get_field(fname)
        va, vb = getattr(a, fname), getattr(b, fname)
        rows.append(
            {
                "name": fname,
                "label": field.verbose_name,
                "a": _shown(a, fname),
                "b": _shown(b, fname),
                "differs": va != vb,
            }
        )
    counts = {
        c.pk: {"contacts": c.contacts.count(), "phones": c.phones.count(), "emails": c.emails.count()}
        for c in (a, b)
    }
    return render(
        request,
        "customers/duplicate_compare.html",
        {"pair": pair, "a": a, "b": b, "rows": rows, "counts": counts, "title": _("Compare and merge")},
    )


def _shown(customer: Customer, fname: str):
    if fname == "phone":
        return customer.phone_display
    getter = getattr(customer, f"get_{fname}_display", None)
    return getter() if getter else getattr(customer, fname)


@require_POST
def merge_pair(request, pk):
    _require(request, Action.DELETE)
    pair = _pair(request, pk, merged_too=True)
    survivor_id = int(request.POST.get("survivor", pair.first_id))
    if survivor_id not in (pair.first_id, pair.second_id):
        raise Http404
    survivor = pair.first if survivor_id == pair.first_id else pair.second
    other = pair.second if survivor is pair.first else pair.first
    choices = {}
    hidden = Access.of(request.user).hidden_fields(Customer)
    for fname in merge_service.MERGEABLE_FIELDS:
        if fname in hidden:
            continue
        value = request.POST.get(f"field_{fname}")
        if value and value.isdigit() and int(value) == other.pk:
            choices[fname] = other.pk
    versions = {pair.first_id: request.POST.get("version_a"), pair.second_id: request.POST.get("version_b")}
    try:
        merge = merge_service.customer_merge(
            survivor=survivor,
            others=[other],
            by=request.user,
            field_choices=choices,
            expected_versions={k: int(v) for k, v in versions.items() if v and v.isdigit()},
        )
    except StaleRecordError as exc:
        messages.error(request, exc.message)
        return redirect("customers:duplicate", pk=pk)
    except BusinessRuleError as exc:
        messages.error(request, str(exc))
        return redirect("customers:duplicates")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("customers:duplicate", pk=pk)
    messages.success(request, _("Merged. You can undo the merge from the customer's page."))
    return redirect("customers:detail", pk=merge.survivor_id)


@require_POST
def dismiss(request, pk):
    _require(request)
    pair = _pair(request, pk)
    pair.status = DuplicateCandidate.Status.DISMISSED
    pair.save(update_fields=["status"])
    messages.success(request, _("Marked as not a duplicate."))
    return redirect("customers:duplicates")


@require_POST
def undo(request, pk):
    _require(request, Action.DELETE)
    merge = get_object_or_404(MergeRecord, pk=pk)
    if not customer_list_with_merged(user=request.user).filter(pk=merge.survivor_id).exists():
        raise Http404
    try:
        merge_service.customer_merge_undo(merge=merge, by=request.user)
        messages.success(request, _("The merge was undone."))
    except BusinessRuleError as exc:
        messages.error(request, str(exc))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("customers:detail", pk=merge.survivor_id)


def _threshold(request) -> tuple[float, str]:
    """The threshold asked for (?threshold= or the form), or the default, and an error to show."""
    from . import automerge

    raw = (request.POST.get("threshold") or request.GET.get("threshold") or "").strip()
    if not raw:
        return automerge.THRESHOLD, ""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.5 < value <= 1:
        return automerge.THRESHOLD, _(
            "“%(value)s” is not a threshold: give a match probability above 0.5 and at most 1."
        ) % {"value": raw}
    return value, ""


def auto_merge(request):
    """Automatic merge of near-certain duplicates (automerge.py), for administrators: GET previews the groups
    that would be merged at the threshold, POST merges them through the merge service (each one audited with
    the note "automatic merge at match probability …" and undoable from the customer's page)."""
    from . import automerge

    _require(request, Action.DELETE)
    if not _may_auto_merge(request.user):
        raise PermissionDenied(_("Administrators only."))
    threshold, error = _threshold(request)
    if request.method == "POST" and not error:
        outcome = automerge.auto_merge(by=request.user, threshold=threshold)
        messages.success(
            request,
            _("%(merged)s groups merged automatically, %(failed)s refused by the merge service.")
            % {"merged": len(outcome.merged), "failed": len(outcome.failed)},
        )
        for group in outcome.failed[:10]:
            messages.error(request, f"{group.survivor.name}: {group.error}")
        return redirect(f"{request.path}?threshold={threshold}")
    if error:
        messages.error(request, error)
    groups, held = automerge.plan(by=request.user, threshold=threshold)
    return render(
        request,
        "customers/duplicates_auto.html",
        {
            "title": _("Automatic merge"),
            "threshold": threshold,
            "groups": groups[:200],
            "total": len(groups),
            "records": sum(1 + len(g.others) for g in groups),
            "held": held,
        },
    )
