"""Capped counts for paginated lists (pages and API): an exact `COUNT(*)` of a million scoped rows costs more
than the page it paginates, so lists count at most MAX_COUNT rows and say "more than 2,000" beyond that.

Both the generic list pages (kehu.ui.generic.RecordListView) and the API's default pagination
(kehu.core.drf.KehuPagination) count through `capped_count` (ADR 0017)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

# lists count at most this many rows ("more than 2,000"): exact counts of millions of rows cost too much
MAX_COUNT = 2_000


def capped_count(object_list, limit: int) -> int:
    """The number of rows of `object_list`, but at most `limit` + 1: `COUNT(*)` over `LIMIT limit + 1` (the
    rows are not ordered for counting). A result above `limit` means "more than `limit`"."""
    if isinstance(object_list, QuerySet):
        return object_list.order_by()[: limit + 1].count()
    return min(len(object_list), limit + 1)


class CappedPaginator(Paginator):
    """A paginator whose count stops just above `cap` (MAX_COUNT by default) so that lists of millions stay
    fast. `count_exact` says whether `count` is the number of rows or only "more than `cap`". A page past the
    cap can still be asked for: the count then reaches one row past that page (so it has a next page exactly
    when one more row exists), and stays inexact."""

    def __init__(self, object_list, per_page, *, cap: int | None = None, page: int = 1, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.cap = max(MAX_COUNT if cap is None else cap, page * int(per_page))

    @cached_property
    def count(self) -> int:
        return capped_count(self.object_list, self.cap)

    @property
    def count_exact(self) -> bool:
        return self.count <= self.cap

    @property
    def shown_count(self) -> int:
        """What a list shows as its count: the count, or the cap it exceeded ("more than …")."""
        return min(self.count, self.cap)
