"""Pool pages: the pools a rep may see and their own private pool (私海) with release; one pool's customers
(公海) with who held each before and why it returned, claim and — for administrators — assign.

Pool entries are public by design (ADR 0006): the customers listed here are not filtered by customer scope,
so the page shows only what a pool may reveal: contact details are hidden while the pool hides them, and the
viewer's hidden customer fields are never shown."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from kehu.core.access import Access
from kehu.core.models import Action, User
from kehu.core.selectors import scoped
from kehu.customers.models import Customer

from .models import CustomerPool, PoolEntry
from .services import pools
from .views_quotes import FAILURES, error_text

PAGE = 50


def _page(request, qs):
    return Paginator(qs, PAGE).get_page(request.GET.get("page"))


class PoolIndex(View):
    """The pools open to the user and their private pool (customers they own), with a release form."""

    def get(self, request):
        user = request.user
        if not Access.of(user).can(Action.VIEW, CustomerPool):
            raise Http404
        visible = pools.pools_for(user=user)
        mine = scoped(Customer, user=user).filter(owner=user).only("pk", "name", "city", "lifecycle_stage")
        page = _page(request, mine.order_by("name", "pk"))
        return render(
            request,
            "sales/pools.html",
            {
                "title": _("Customer pools"),
                "pools": visible,
                "page": page,
                "held": page.paginator.count,
                "limit": pools.claim_limit_of(user),
            },
        )


class PoolDetail(View):
    def get(self, request, pk):
        user = request.user
        pool = pools.pool_get(user=user, pk=pk)
        page = _page(request, pools.pool_entries(pool=pool, user=user))
        entries = list(page.object_list)
        history = pools.pool_history(customer_ids=[e.customer_id for e in entries])
        pools.mask_hidden_entry_fields(entries=entries, history=history, user=user)
        for entry in entries:
            entry.history = history.get(entry.customer_id, [])
        access = Access.of(user)
        can_assign = access.can(Action.TRANSFER, Customer)
        return render(
            request,
            "sales/pool_detail.html",
            {
                "title": pool.name,
                "pool": pool,
                "page": page,
                "entries": entries,
                "hidden": pools.hidden_customer_fields(pool=pool, user=user),
                "can_claim": access.can(Action.CHANGE, PoolEntry),
                "can_assign": can_assign,
                "assignees": (
                    User.objects.filter(is_active=True)
                    .order_by("username")
                    .only("pk", "username", "display_name")
                    if can_assign
                    else []
                ),
            },
        )


class PoolClaim(View):
    def post(self, request, pk, customer_pk):
        pool = pools.pool_get(user=request.user, pk=pk)
        entry = get_object_or_404(
            PoolEntry.objects.select_related("customer"), pool=pool, customer_id=customer_pk
        )
        try:
            pools.pool_claim(customer=entry.customer, pool=pool, by=request.user)
            messages.success(request, _("%(customer)s is yours now.") % {"customer": entry.customer})
            return redirect(entry.customer.get_absolute_url())
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect("sales:pool", pk=pool.pk)


class PoolAssign(View):
    def post(self, request, pk, customer_pk):
        pool = pools.pool_get(user=request.user, pk=pk)
        entry = get_object_or_404(
            PoolEntry.objects.select_related("customer"), pool=pool, customer_id=customer_pk
        )
        to_user = User.objects.filter(pk=request.POST.get("to_user") or 0, is_active=True).first()
        if to_user is None:
            messages.error(request, _("Choose the user to assign the customer to."))
            return redirect("sales:pool", pk=pool.pk)
        try:
            pools.pool_assign(customer=entry.customer, to_user=to_user, by=request.user)
            messages.success(
                request,
                _("%(customer)s assigned to %(user)s.") % {"customer": entry.customer, "user": to_user},
            )
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect("sales:pool", pk=pool.pk)


class PoolRelease(View):
    def post(self, request, customer_pk):
        customer = get_object_or_404(scoped(Customer, user=request.user), pk=customer_pk)
        pool = None
        if request.POST.get("pool"):
            pool = pools.pool_get(user=request.user, pk=request.POST["pool"])
        try:
            pools.pool_release(
                customer=customer, by=request.user, reason=request.POST.get("reason", ""), pool=pool
            )
            messages.success(request, _("%(customer)s went back to the pool.") % {"customer": customer})
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect("sales:pools")
