"""`kehu privacy <action>`:

- `reapply-erasures` — after restoring a backup: erase again every customer of the tombstone file and table
  that the restored database holds un-erased (docs/privacy.md, "Restore").
- `rotate-keys` — re-encrypt sensitive values and subject keys under the first key of KEHU_PRIVACY_KEYS.
- `reindex` — recompute blind indexes after a change of KEHU_PRIVACY_INDEX_KEY.
- `retention-dry-run` — what the retention rules would delete or anonymise now.
- `overdue` — open requests past their deadline.

Output never contains key material or personal values.
"""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Privacy operations: reapply-erasures, rotate-keys, reindex, retention-dry-run, overdue."

    def add_arguments(self, parser):
        parser.add_argument(
            "action", choices=["reapply-erasures", "rotate-keys", "reindex", "retention-dry-run", "overdue"]
        )

    def handle(self, *args, action: str, **options):
        if action == "reapply-erasures":
            from kehu.privacy.erasure import reapply_erasures

            result = reapply_erasures()
            self.stdout.write(
                f"tombstones: {result['tombstones']}, erased again: {result['reapplied']}, "
                f"already erased: {result['already_erased']}"
            )
        elif action == "rotate-keys":
            from kehu.privacy.sensitive import rotate_all

            counts = rotate_all()
            self.stdout.write(
                f"re-encrypted values: {counts['values']}, subject keys: {counts['subject_keys']}"
            )
        elif action == "reindex":
            from kehu.privacy.sensitive import reindex_all

            self.stdout.write(f"blind indexes recomputed: {reindex_all()}")
        elif action == "retention-dry-run":
            from kehu.privacy.retention import run

            for o in run(dry_run=True):
                self.stdout.write(f"{o.rule.name}: {o.count} {o.rule.record_type} would be {o.rule.action}d")
        elif action == "overdue":
            from kehu.privacy.services import overdue

            for req in overdue():
                self.stdout.write(f"#{req.pk} {req.kind} customer #{req.customer_id} due {req.due_on}")
        else:  # pragma: no cover - argparse refuses
            raise CommandError(action)
