"""Automatic merges of near-certain duplicates (issue 8): only open candidates at or above the threshold, no
evidence against, cliques only, within the user's rights — through the merge service (audited, undoable);
the dry run merges nothing; the management command option."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from kehu.core.models import AuditEntry, Scope
from kehu.customers import automerge, services
from kehu.customers.merge import customer_merge_undo
from kehu.customers.models import Customer, DuplicateCandidate, Kind, MergeRecord

pytestmark = pytest.mark.django_db
ALL = ("view", "add", "change", "delete", "export", "transfer")


@pytest.fixture
def manager(make_user):
    return make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)


def person(by, name, **data):
    return services.customer_create(data={"kind": Kind.PERSON, "name": name, **data}, by=by)


def pair(a, b, score, *reasons):
    first, second = sorted((a.pk, b.pk))
    return DuplicateCandidate.objects.create(
        first_id=first,
        second_id=second,
        score=score,
        reasons=[[r, {}, 3.0] for r in reasons or ["same_name"]],
    )


def test_dry_run_lists_and_merges_nothing(manager):
    a, b = person(manager, "张伟"), person(manager, "张伟")
    pair(a, b, 0.999, "same_name", "same_id_number")
    outcome = automerge.auto_merge(by=manager, dry_run=True)
    assert [(g.survivor.pk, [o.pk for o in g.others]) for g in outcome.merged] == [(a.pk, [b.pk])]
    assert outcome.dry_run and not MergeRecord.objects.exists()
    assert not Customer.objects.filter(merged_into__isnull=False).exists()
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.OPEN


def test_merges_through_the_merge_service_audited_and_undoable(manager):
    a = person(manager, "李娜", phone="13800000001")
    b = person(manager, "李娜", job_title="工程师", phone="13800000002")
    pair(a, b, 0.995, "same_name", "same_birth_date", "same_address")
    outcome = automerge.auto_merge(by=manager)
    (group,) = outcome.merged
    merge = MergeRecord.objects.get(pk=group.merge_id)
    assert merge.survivor_id == a.pk and list(merge.merged.values_list("pk", flat=True)) == [b.pk]
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.merged_into_id == a.pk
    assert a.job_title == "工程师"  # an empty field of the survivor takes the merged record's value
    assert a.phone == "+8613800000001"  # the survivor's own phone stays primary; the other moves as a row
    assert sorted(a.phones.values_list("number", flat=True)) == ["+8613800000001", "+8613800000002"]
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.MERGED
    notes = list(
        AuditEntry.objects.filter(note__startswith=f"merge #{merge.pk}").values_list("note", flat=True)
    )
    assert len(notes) == 2 and all("automatic merge at match probability 0.995" in n for n in notes)
    customer_merge_undo(merge=merge, by=manager)
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.merged_into_id is None and a.job_title == ""
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.OPEN


def test_below_the_threshold_against_evidence_and_implied_pairs_stay_for_review(manager):
    a, b, c, d, e, f, g, h = (person(manager, f"王{x}") for x in "一二三四五六七八")
    pair(a, b, 0.98)  # below 0.99
    pair(c, d, 0.999, "same_name", "id_number_differs")
    pair(e, f, 0.999, "linked_through")
    pair(g, h, 0.999, "same_name", "same_birth_date")
    dismissed = pair(a, c, 0.999)
    dismissed.status = DuplicateCandidate.Status.DISMISSED
    dismissed.save()
    outcome = automerge.auto_merge(by=manager)
    assert [(x.survivor.pk, x.others[0].pk) for x in outcome.merged] == [(g.pk, h.pk)]
    assert outcome.held == 2
    assert set(Customer.objects.filter(merged_into__isnull=False).values_list("pk", flat=True)) == {h.pk}
    assert automerge.auto_merge(by=manager, threshold=0.95).merged[0].others == [b]


def test_a_clique_is_merged_into_the_oldest_and_a_chain_is_not(manager):
    a, b, c = person(manager, "陈静"), person(manager, "陈静"), person(manager, "陈静")
    pair(a, b, 0.999)
    pair(b, c, 0.997)
    pair(a, c, 0.995)
    x, y, z = person(manager, "刘洋"), person(manager, "刘洋"), person(manager, "刘洋")
    pair(x, y, 0.999)
    pair(y, z, 0.999)  # x ~ z not even a candidate: a chain
    organisation = services.customer_create(data={"kind": Kind.ORGANIZATION, "name": "陈静"}, by=manager)
    pair(a, organisation, 0.999)  # another kind: never automatic (and it does not join the clique)
    outcome = automerge.auto_merge(by=manager)
    (group,) = outcome.merged
    assert group.survivor == a and [o.pk for o in group.others] == [b.pk, c.pk] and group.score == 0.995
    assert outcome.held == 3
    assert not Customer.objects.filter(pk__in=[x.pk, y.pk, z.pk, organisation.pk], merged_into__isnull=False)


def test_only_records_the_user_may_change(make_user):
    rep = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)
    other = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)
    mine, theirs = person(rep, "赵敏"), person(other, "赵敏")
    pair(mine, theirs, 0.999)
    outcome = automerge.auto_merge(by=rep)
    assert not outcome.merged and outcome.held == 1
    no_delete = make_user(
        "customers.customer", actions=("view", "add", "change"), read=Scope.ALL, write=Scope.ALL
    )
    outcome = automerge.auto_merge(by=no_delete)  # the merge service refuses: reported, nothing merged
    assert not outcome.merged and len(outcome.failed) == 1 and "delete" in outcome.failed[0].error
    assert not MergeRecord.objects.exists()


def test_a_bad_threshold_is_refused(manager):
    for threshold in (0.3, 1.5):
        with pytest.raises(ValidationError):
            automerge.auto_merge(by=manager, threshold=threshold)


def test_scan_then_automatic_merge_by_the_command(manager, capsys):
    a = person(manager, "欧阳娜娜", phone="13911112222", email="nana@example.com", birthday="1990-05-06")
    b = person(manager, "欧阳娜娜", email="NANA@example.com", birthday="1990-05-06")
    c = person(manager, "欧阳明", birthday="1971-01-02")
    with pytest.raises(CommandError):
        call_command("find_duplicates", "--auto-merge")
    call_command("find_duplicates", "--auto-merge", "--dry-run", "--user", manager.username)
    out = capsys.readouterr().out
    assert f"would merge #{b.pk} into #{a.pk}" in out and "1 group(s) would merge" in out
    assert not MergeRecord.objects.exists()
    call_command("find_duplicates", "--auto-merge", "--no-scan", "--user", manager.username)
    assert f"merged #{b.pk} into #{a.pk}" in capsys.readouterr().out
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk
    assert Customer.objects.get(pk=c.pk).merged_into_id is None
    with pytest.raises(CommandError):
        call_command(
            "find_duplicates", "--auto-merge", "--no-scan", "--threshold", "2", "--user", manager.username
        )


# ------------------------------------------------------------------------------------------ the admin page
URL = "/customers/duplicates/auto-merge/"


def test_the_page_previews_then_merges_through_the_merge_service(admin_user, client_for):
    a = person(admin_user, "赵敏", job_title="")
    b = person(admin_user, "赵敏", job_title="会计")
    c, d = person(admin_user, "钱一"), person(admin_user, "钱二")
    pair(a, b, 0.995, "same_name", "same_birth_date")
    pair(c, d, 0.999, "same_name", "birth_date_differs")  # evidence against: held for review
    client = client_for(admin_user)
    assert URL in client.get("/customers/duplicates/").content.decode()  # linked for an administrator
    page = client.get(URL).content.decode()
    assert "1 groups (2 records) would be merged; 1 pairs at or above the threshold stay for review." in page
    assert f'href="{a.get_absolute_url()}"' in page and f'href="{c.get_absolute_url()}"' not in page
    assert not MergeRecord.objects.exists()  # the preview merges nothing
    response = client.post(URL, {"threshold": "0.99"})
    assert response.status_code == 302
    merge = MergeRecord.objects.get()
    assert merge.survivor_id == a.pk and list(merge.merged.values_list("pk", flat=True)) == [b.pk]
    a.refresh_from_db()
    assert a.job_title == "会计"
    assert AuditEntry.objects.filter(note__contains="automatic merge at match probability 0.995").exists()
    assert not Customer.objects.filter(pk__in=[c.pk, d.pk], merged_into__isnull=False).exists()
    page = client.get(response["Location"]).content.decode()
    assert "1 groups merged automatically, 0 refused by the merge service." in page
    assert "0 groups (0 records) would be merged" in page


def test_the_page_threshold_is_checked_and_respected(admin_user, client_for):
    a, b = person(admin_user, "孙丽"), person(admin_user, "孙丽")
    pair(a, b, 0.995, "same_name", "same_birth_date")
    client = client_for(admin_user)
    assert "0 groups (0 records)" in client.get(URL, {"threshold": "0.999"}).content.decode()
    page = client.get(URL, {"threshold": "0.3"}).content.decode()
    assert "is not a threshold" in page and "1 groups (2 records)" in page  # the default instead
    client.post(URL, {"threshold": "abc"})
    client.post(URL, {"threshold": "0.999"})
    assert not MergeRecord.objects.exists()


def test_the_page_is_for_administrators_only(manager, client_for):
    a, b = person(manager, "周杰"), person(manager, "周杰")
    pair(a, b, 0.999, "same_name", "same_birth_date")
    client = client_for(manager)  # may change and delete customers, but is no administrator
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"threshold": "0.99"}).status_code == 403
    assert URL not in client.get("/customers/duplicates/").content.decode()
    assert not MergeRecord.objects.exists()
