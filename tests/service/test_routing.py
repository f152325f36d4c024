"""Routing (ACD): rules by customer class and tags (VIP fast lane), product, language and channel; round
robin and least loaded among online agents under capacity with the required skills."""

from __future__ import annotations

import pytest

from kehu.core.models import Tag
from kehu.products.models import InstalledProduct, Product
from kehu.service.models import Availability, Queue, RoutingRule, Skill, Ticket
from kehu.service.services import routing, tickets

from .conftest import make_agent


def new(by, customer, **data):
    return tickets.ticket_create(data={"subject": "路由测试", "customer": customer, **data}, by=by)


@pytest.mark.django_db
def test_vip_customers_go_to_the_fast_lane_with_raised_priority(queue, customer):
    vip = Tag.objects.create(name="VIP")
    fast = Queue.objects.create(name="VIP", code="vip", fast_lane=True, method="manual")
    rule = RoutingRule.objects.create(name="VIP", position=1, queue=fast, set_priority="high")
    rule.customer_tags.add(vip)
    entry = make_agent("entry", queues=[queue])
    assert new(entry, customer).queue == queue
    customer.tags.add(vip)
    ticket = new(entry, customer)
    assert ticket.queue == fast and ticket.priority == "high"


@pytest.mark.django_db
def test_product_language_and_channel_rules(queue, customer, unit):
    pumps = Queue.objects.create(name="泵类", code="pumps")
    english = Queue.objects.create(name="English desk", code="en")
    by_product = RoutingRule.objects.create(name="pumps", position=1, queue=pumps)
    by_product.products.add(unit.product)
    RoutingRule.objects.create(
        name="english", position=2, queue=english, languages=["en"], channels=["email"]
    )
    entry = make_agent("entry2", queues=[queue])
    assert new(entry, customer, installed_product=unit).queue == pumps
    assert new(entry, customer, language="en", channel="email").queue == english
    assert new(entry, customer, language="en", channel="phone").queue == queue


@pytest.mark.django_db
def test_least_loaded_then_round_robin_skip_offline_full_and_unskilled(queue, customer):
    queue.method = "least_loaded"
    queue.save()
    busy = make_agent("busy", queues=[queue], capacity=10)
    free = make_agent("free", queues=[queue], capacity=10)
    make_agent("away", queues=[queue], online=False)
    entry = make_agent("entry3", queues=[])
    for _ in range(2):
        tickets.ticket_create(data={"subject": "占用", "customer": customer, "owner": busy}, by=busy)
    assert new(entry, customer).owner == free  # fewest active tickets
    assert new(entry, customer).owner == free  # 1 vs 2
    assert {new(entry, customer).owner for _ in range(2)} == {busy, free}  # 2 vs 2: the longer waiting one
    queue.method = "round_robin"
    queue.save()
    owners = [new(entry, customer).owner.username for _ in range(4)]
    assert sorted(owners) == ["busy", "busy", "free", "free"] and owners[0] != owners[1]
    free.agent_profile.capacity = Ticket.objects.filter(owner=free).count()
    free.agent_profile.save()
    assert new(entry, customer).owner == busy  # free is at capacity
    english = Skill.objects.create(kind="language", code="en", name="English")
    free.agent_profile.skills.add(english)
    busy.agent_profile.skills.add(Skill.objects.create(kind="language", code="zh-hans", name="中文"))
    free.agent_profile.capacity = 100
    free.agent_profile.save()
    assert new(entry, customer, language="en").owner == free  # busy declares Chinese only


@pytest.mark.django_db
def test_nobody_available_leaves_the_ticket_in_the_queue(queue, customer):
    queue.method = "round_robin"
    queue.save()
    offline = make_agent("off", queues=[queue], online=False)
    ticket = new(offline, customer)
    assert ticket.owner is None and ticket.status == "new"
    routing.agent_availability_set(user=offline, availability=Availability.ONLINE, by=offline)
    assert offline.agent_profile.__class__.objects.get(user=offline).availability == "online"
    with pytest.raises(Exception, match="own availability"):
        routing.agent_availability_set(
            user=offline, availability="away", by=make_agent("peer", capacity=1, transfer=False)
        )


@pytest.mark.django_db
def test_units_of_contacts_count_for_the_account(queue, customer, owner_rep):
    from kehu.customers import services as customer_services

    contact = customer_services.customer_create(
        data={"name": "王工", "kind": "person", "account": customer}, by=owner_rep
    )
    unit = InstalledProduct.objects.create(
        customer=contact, product=Product.objects.create(sku="P-9", name="泵"), serial_number="SN-9"
    )
    entry = make_agent("entry4", queues=[queue])
    ticket = tickets.ticket_create(
        data={"subject": "联系人的设备", "customer": customer, "installed_product": unit}, by=entry
    )
    assert ticket.installed_product == unit
