"""What earlier rows of the file did, so that a row's outcome depends only on the rows before it — not on
where a batch starts, nor on which worker planned it — and the preview says what the run does.

Within a pass the planner remembers the rows that create or update a customer (never a row that fails or is
skipped): their phones and emails (a later row with one of them is the same customer: "combine the two rows"),
the customer a row updates (one update per customer), WeChat ids and duplicate-check profiles. The rows of
batches committed earlier in the run — by this worker, one that was killed, or before a failure — are found
again through their ImportRow: a customer this job created that a row matches, or that it looks like, is an
earlier row of the file, whoever may see it; a customer this job updated is taken. That is what the preview,
which writes nothing, sees too. A resumed preview replays the rows before its cursor (worker.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from .. import dedup, normalize
from ..models import Customer, Kind
from .lookups import Duplicate
from .models import ImportRow, RowAction

if TYPE_CHECKING:
    from .rows import RowPlan


SEEN_PER_KEY = 20


class EarlierRows:
    """Mixin of rows.Planner: the memory of earlier rows and the checks of a row against them."""

    def _init_earlier(self) -> None:
        self.match_keys: dict[str, int] = {}  # "phone:…"/"email:…" → the row that created or updated it
        self.updated: dict[int, int] = {}  # customer id → the row that updates it
        self.updated_profiles: dict[int, dedup.Profile] = {}  # … and what it looks like after the update
        self.wechat_rows: dict[str, int] = {}
        self.seen: dict[str, list[tuple[int | None, int | None, dedup.Profile]]] = {}  # (row, id, profile)
        self.created_rows: dict[int, int] = {}  # row number → id of the customer it created (writer)
        self.job_created: dict[int, int] = {}  # id of a customer this job created → its row (ImportRow)
        self._looked_up: set[int] = set()

    def _load_earlier(self, ids) -> None:
        """Find which of these customers earlier batches of this run created or updated (one query; a
        preview writes no ImportRow)."""
        ids = set(ids) - self._looked_up
        if self.job.phase != "run" or not ids:
            return
        self._looked_up |= ids
        rows = ImportRow.objects.filter(job=self.job, customer_id__in=sorted(ids))
        for pk, row, action in rows.values_list("customer_id", "row_number", "action"):
            if action == RowAction.CREATED:
                self.job_created[pk] = row
            else:
                self.updated.setdefault(pk, row)

    def _earlier_holders(self, plans) -> None:
        """Creating with "import anyway": the phones and emails of the batch that customers created by earlier
        batches of this run hold (a resumed worker knows them only through their ImportRow)."""
        if self.job.phase != "run":
            return
        phones = {p.values["phone"] for p in plans if p.values.get("phone")}
        emails = {p.values["email"] for p in plans if p.values.get("email")}
        if not (phones or emails):
            return
        holders = self._holders(phones, emails)
        self._load_earlier(pk for _key, pk in holders)
        for key, pk in holders:
            if pk in self.job_created:
                self.match_keys.setdefault(key, self.job_created[pk])

    # ------------------------------------------------------------------------------------ checks
    def _check_earlier(self, plan: RowPlan, target: Customer | None) -> None:
        """Refuse a row that repeats an earlier row: it updates the same customer, or it has the phone or
        email of a customer an earlier row created or updated."""
        if target is not None:
            row = self.updated.get(target.pk)
            if row is not None:
                plan.fail(
                    None,
                    "",
                    _("Row %(row)d of this file already updates “%(name)s” (#%(id)d): combine the two rows.")
                    % {"row": row, "name": target.name, "id": target.pk},
                )
            return
        if plan.matched:  # (a match that failed has said why)
            return
        if self.mode == "create":
            if self.policy != "allow":
                return  # an earlier row it repeats is a duplicate it is skipped or flagged for
            # "import anyway" is about the customers in Kehu: a row repeating the phone or email of an
            # earlier row of the same file is the same customer twice, refused as in the other modes
            row_keys = [f"{k}:{plan.values[k]}" for k in ("phone", "email") if plan.values.get(k)]
        else:
            row_keys = self._match_keys(plan)
        for key in row_keys:
            row = self.match_keys.get(key)
            if row is not None:
                kind, value = key.split(":", 1)
                plan.fail(
                    None,
                    "",
                    _("Row %(row)d of this file has the same %(what)s (%(value)s): combine the two rows.")
                    % {"row": row, "what": self._key_label(kind), "value": value},
                )
                return
        if self.mode == "update":
            if row_keys:
                what = " / ".join(self._key_label(k.split(":")[0]) for k in row_keys)
                plan.fail(None, "", _("No customer that you can see has this %(what)s.") % {"what": what})
            else:
                plan.fail(None, "", _("This row has no value to find the customer by."))

    def _check_wechat(self, plan: RowPlan, taken: dict[str, int], target: Customer | None) -> None:
        handle = plan.extras.wechat
        if not handle:
            return
        holder = taken.get(handle)
        row = self.wechat_rows.get(handle)
        if row is None and holder is not None and holder in self.job_created:
            row = self.job_created[holder]
        if row is not None and (target is None or holder != target.pk):
            message = _("Row %(row)d of this file has the same WeChat id.") % {"row": row}
        elif holder is not None and (target is None or holder != target.pk):
            message = _("The WeChat id “%(id)s” already belongs to another customer.") % {"id": handle}
        else:
            return
        plan.fail(self.column_of("wechat"), "wechat", message)

    def _duplicates_of(self, plan: RowPlan, index, profiles) -> list[Duplicate]:
        """Customers (or earlier rows) a new row looks like, best first: the customers found for the batch,
        with those this job created shown as their rows and those it updated as they are after the update,
        and the rows of this batch remembered so far."""
        probe = self._profile(plan.instance, plan.extras.phones, plan.extras.emails)
        keys = [k for k in dedup._keys(probe) if k[0] in "pen"]
        candidates: dict[tuple, tuple[int | None, int | None, dedup.Profile]] = {}
        for pk in sorted({pk for k in keys for pk in index.get(k, ())}):
            row = self.job_created.get(pk)
            identity = ("row", row) if row is not None else ("id", pk)
            candidates[identity] = (pk, row, self.updated_profiles.get(pk, profiles[pk]))
        for key in keys:
            for row, pk, profile in self.seen.get(key, ()):
                identity = ("row", row) if row is not None else ("id", pk)
                known = candidates.get(identity)
                candidates[identity] = (known[0] if known else pk, row, profile)  # the newest profile
        found = []
        for pk, row, profile in candidates.values():
            score, reasons = dedup.score_pair(probe, profile)
            if score >= dedup.THRESHOLD:
                found.append(Duplicate(pk, row, score, reasons, profile.name))
        found.sort(key=lambda f: (-f.score, f.row is None, f.row or 0, f.pk or 0))
        return found

    def _check_cross_kind(self, plan: RowPlan, index, profiles) -> None:
        """A new row with the phone or email of a customer (or an earlier row) of the other kind — a person
        with an organisation's number — is no duplicate for the scorer, yet it is often the same customer
        entered twice or a contact not linked to its account: the row is imported with a warning naming it.
        A contact of that very organisation (its account) is what it should be and says nothing."""
        from .rows import Problem

        instance = plan.instance
        probe = self._profile(instance, plan.extras.phones, plan.extras.emails)
        keys = [k for k in dedup._keys(probe) if k[0] in "pe"]
        others: list[tuple[str, int | None, int | None, dedup.Profile]] = []
        for key in keys:
            for pk in sorted(index.get(key, ())):
                others.append((key, pk, self.job_created.get(pk), profiles[pk]))
            for row, pk, profile in self.seen.get(key, ()):
                others.append((key, pk, row, profile))
        for key, pk, row, profile in others:
            if profile.kind == probe.kind:
                continue
            if pk is not None and pk in (instance.account_id, instance.parent_id):
                continue
            kind, value = key.split(":", 1)
            if row is not None:
                who = _("row %(row)d of this file") % {"row": row}
            else:
                who = _("“%(name)s” (#%(id)d)") % {"name": profile.name, "id": pk}
            shown = normalize.format_phone(value) if kind == "p" else normalize.display_email(value)
            plan.warnings.append(
                Problem(
                    self.column_of("phone" if kind == "p" else "email"),
                    "phone" if kind == "p" else "email",
                    _(
                        "Possibly related: %(who)s, %(kind)s, has the same %(what)s (%(value)s) — the same "
                        "customer, or a contact not linked to its account? Check it after the import."
                    )
                    % {
                        "who": who,
                        "kind": Kind(profile.kind).label.lower(),
                        "what": _("phone") if kind == "p" else _("email"),
                        "value": shown,
                    },
                )
            )
            return

    # ------------------------------------------------------------------------------------ memory
    def _remember(self, plan: RowPlan, target: Customer | None) -> None:
        """What a row that creates or updates a customer means for the rows after it."""
        if plan.action not in ("create", "update", "unchanged"):
            return
        extras = plan.extras
        phones = [plan.values.get("phone"), *extras.phones]
        emails = [plan.values.get("email"), *extras.emails]
        for key in [f"phone:{p}" for p in phones if p] + [f"email:{e}" for e in emails if e]:
            self.match_keys.setdefault(key, plan.number)
        if extras.wechat:
            self.wechat_rows.setdefault(extras.wechat, plan.number)
        if target is not None:
            self.updated[target.pk] = plan.number
        if self.policy == "allow":
            return
        if target is None:
            profile, identity = (
                self._profile(plan.instance, extras.phones, extras.emails),
                (plan.number, None),
            )
        else:
            profile = self._profile(
                plan.instance,
                [*(x.number for x in target.phones.all()), *extras.phones],
                [*(x.email for x in target.emails.all()), *extras.emails],
            )
            self.updated_profiles[target.pk] = profile
            identity = (None, target.pk)
        for key in dedup._keys(profile):
            if key[0] not in "pen":
                continue
            entries = self.seen.setdefault(key, [])
            if target is not None:  # the customer as this row leaves it
                entries[:] = [e for e in entries if e[1] != target.pk]
            elif any(e[0] is not None for e in entries):
                continue  # the first row with a key stands for the rest (a file of one name stays linear)
            if len(entries) < SEEN_PER_KEY:
                entries.append((*identity, profile))

    @staticmethod
    def _profile(c: Customer, phones, emails) -> dedup.Profile:
        return dedup.profile_of(
            {
                "id": c.pk,
                "name": c.name,
                "kind": c.kind or Kind.ORGANIZATION,
                "name_key": c.name_key,
                "name_pinyin": c.name_pinyin,
                "account_id": c.account_id,
                "phone": c.phone,
                "email": c.email,
            },
            phones=phones,
            emails=emails,
        )
