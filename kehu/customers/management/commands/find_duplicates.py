import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from kehu.customers import automerge
from kehu.customers.dedup import scan


class Command(BaseCommand):
    help = (
        "Scan all customers for likely duplicates and refresh the review list; with --auto-merge, merge the "
        "near-certain ones as --user (audited, undoable; --dry-run lists them)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--auto-merge",
            action="store_true",
            help="merge open candidates at or above --threshold through the merge service",
        )
        parser.add_argument(
            "--threshold",
            type=float,
            default=automerge.THRESHOLD,
            help=f"match probability for an automatic merge (default {automerge.THRESHOLD})",
        )
        parser.add_argument("--user", help="the user the merges are made as (their rights and scope apply)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be merged, merge nothing")
        parser.add_argument("--no-scan", action="store_true", help="use the candidates of the last scan")
        parser.add_argument("--limit", type=int, default=None, help="merge at most this many groups")

    def handle(self, *args, **options):
        user = None
        if options["auto_merge"]:
            if not options["user"]:
                raise CommandError(
                    "--auto-merge needs --user: merges are made, audited and checked as a user."
                )
            try:
                user = get_user_model().objects.get(username=options["user"], is_active=True)
            except get_user_model().DoesNotExist:
                raise CommandError(f"No active user {options['user']!r}.") from None
        if not options["no_scan"]:
            started = time.perf_counter()
            result = scan()
            self.stdout.write(
                f"{result['customers']} customers, {result['pairs']} candidate pairs "
                f"in {time.perf_counter() - started:.1f}s"
            )
        if user is None:
            return
        try:
            outcome = automerge.auto_merge(
                by=user, threshold=options["threshold"], dry_run=options["dry_run"], limit=options["limit"]
            )
        except Exception as exc:  # a bad threshold: say it as the command's error
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        verb = "would merge" if outcome.dry_run else "merged"
        for group in outcome.merged:
            others = ", ".join(f"#{o.pk}" for o in group.others)
            done = f" (merge #{group.merge_id})" if group.merge_id else ""
            self.stdout.write(f"{verb} {others} into #{group.survivor.pk} at p={group.score:.4f}{done}")
        for group in outcome.failed:
            others = ", ".join(f"#{o.pk}" for o in group.others)
            self.stdout.write(f"not merged {others} into #{group.survivor.pk}: {group.error}")
        self.stdout.write(
            f"{len(outcome.merged)} group(s) {verb}, {len(outcome.failed)} refused, {outcome.held} pair(s) at or "
            f"above {outcome.threshold} left for review"
        )
