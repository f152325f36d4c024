"""Row invariants of the service data model (clean() and database constraints) for every sub-domain, and
the registry: every model is secured with the scope ADR 0007 describes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kehu.core import registry
from kehu.products.models import Product
from kehu.service import models as m
from tests.factories import UserFactory


@pytest.mark.django_db
def test_every_service_model_is_registered():
    from django.apps import apps

    missing = [
        model.__name__ for model in apps.get_app_config("service").get_models() if registry.get(model) is None
    ]
    assert missing == []
    assert registry.get(m.Ticket).owner_field == "owner" and registry.get(m.Ticket).extra_scope is not None
    assert (
        registry.get(m.TicketMessage).via == "ticket"
        and registry.get(m.TicketMessage).root().model is m.Ticket
    )
    assert registry.get(m.SurveyResponse).via == "customer"


@pytest.mark.django_db
def test_ivr_tree_invariants(queue):
    menu = m.IvrMenu.objects.create(name="400 热线")
    root = m.IvrNode.objects.create(menu=menu, prompt="欢迎致电，报修请按1")
    with pytest.raises(ValidationError):
        m.IvrNode(menu=menu, parent=root, digit="11", prompt="x").full_clean()
    with pytest.raises(ValidationError):
        m.IvrNode(
            menu=menu, parent=root, digit="1", prompt="x", action=m.IvrAction.QUEUE
        ).full_clean()  # no queue
    repair = m.IvrNode.objects.create(
        menu=menu, parent=root, digit="1", prompt="报修", action="queue", queue=queue
    )
    with pytest.raises(ValidationError):  # only a sub-menu has children
        m.IvrNode(menu=menu, parent=repair, digit="2", prompt="x").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        m.IvrNode.objects.create(menu=menu, parent=root, digit="1", prompt="重复按键")


@pytest.mark.django_db
def test_call_log_and_call_list_invariants(customer):
    start = timezone.now()
    with pytest.raises(ValidationError):
        m.CallLog(
            external_id="c1", direction="in", started_at=start, ended_at=start - dt.timedelta(seconds=1)
        ).full_clean()
    survey = m.Survey.objects.create(name="CSAT", question="满意吗？")
    with pytest.raises(ValidationError):
        m.CallList(name="回访", purpose="survey").full_clean()
    call_list = m.CallList.objects.create(name="回访", purpose="survey", survey=survey)
    entry = m.CallListEntry(call_list=call_list, customer=customer, phone="138 0013 8000")
    entry.full_clean()
    assert entry.phone == "+8613800138000"


@pytest.mark.django_db
def test_work_order_invariants(customer, unit, owner_rep):
    from kehu.customers import services as customer_services

    other = customer_services.customer_create(data={"name": "别家公司"}, by=owner_rep)
    now = timezone.now()
    base = {"customer": customer, "subject": "上门维修"}
    with pytest.raises(ValidationError):
        m.WorkOrder(**base, scheduled_start=now, scheduled_end=now).full_clean()
    with pytest.raises(ValidationError):
        m.WorkOrder(**base, status="scheduled").full_clean()  # no engineer, no time
    with pytest.raises(ValidationError):
        m.WorkOrder(
            **base, check_in_at=now, check_in_latitude=Decimal("91"), check_in_longitude=Decimal("0")
        ).full_clean()
    with pytest.raises(ValidationError):
        m.WorkOrder(customer=other, subject="x", installed_product=unit).full_clean()
    engineer = UserFactory()
    m.WorkOrder(
        **base, owner=engineer, status="scheduled", scheduled_start=now, installed_product=unit
    ).full_clean()


@pytest.mark.django_db
def test_stock_never_negative_and_move_shapes():
    part = m.SparePart.objects.create(product=Product.objects.create(sku="SEAL-1", name="机械密封"))
    engineer = UserFactory()
    with pytest.raises(ValidationError):
        m.Warehouse(code="van1", name="车1", kind="van").full_clean()  # a van needs its engineer
    van = m.Warehouse.objects.create(code="van1", name="车1", kind="van", engineer=engineer)
    depot = m.Warehouse.objects.create(code="sh", name="上海仓")
    with pytest.raises(IntegrityError), transaction.atomic():
        m.Warehouse.objects.create(code="van2", name="车2", kind="van", engineer=engineer)  # one van each
    level = m.StockLevel.objects.create(part=part, warehouse=van, quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        m.StockLevel.objects.filter(pk=level.pk).update(quantity=-1)
    with pytest.raises(ValidationError):
        m.StockMove(part=part, kind="transfer", quantity=1, from_warehouse=van, to_warehouse=van).full_clean()
    with pytest.raises(ValidationError):
        m.StockMove(part=part, kind="issue", quantity=1, from_warehouse=van).full_clean()  # no work order
    m.StockMove(part=part, kind="receipt", quantity=5, to_warehouse=depot).full_clean()


@pytest.mark.django_db
def test_service_contract_invariants(customer):
    today = timezone.localdate()
    contract = m.ServiceContract(
        number="sc-001",
        name="年度维保",
        customer=customer,
        start_date=today,
        end_date=today - dt.timedelta(days=1),
    )
    with pytest.raises(ValidationError):
        contract.full_clean()
    contract.end_date = today + dt.timedelta(days=365)
    contract.visits_allowed, contract.visits_used = 2, 3
    with pytest.raises(ValidationError):
        contract.full_clean()
    contract.visits_used = 1
    contract.full_clean()
    assert contract.number == "SC-001" and contract.visits_left == 1
    contract.status = "active"
    assert contract.covers_on(today) and not contract.covers_on(today + dt.timedelta(days=400))


@pytest.mark.django_db
def test_knowledge_base_tokens_versions_and_one_solution():
    article = m.Article(title="空压机 异响 排查", body="检查皮带张紧度 belt tension")
    article.full_clean()
    article.save()
    assert "空压" in article.search_text and "belt" in article.search_text
    m.ArticleVersion.objects.create(article=article, number=1, title=article.title, body=article.body)
    with pytest.raises(IntegrityError), transaction.atomic():
        m.ArticleVersion.objects.create(article=article, number=1, title="x", body="y")
    thread = m.DiscussionThread.objects.create(title="异响经验", body="大家怎么处理？")
    m.DiscussionReply.objects.create(thread=thread, body="先查皮带", is_solution=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        m.DiscussionReply.objects.create(thread=thread, body="再查轴承", is_solution=True)


@pytest.mark.django_db
def test_survey_scores_and_the_ten_factors(customer):
    assert len(m.ServiceFactor.values) == 10
    with pytest.raises(ValidationError):
        m.Survey(name="x", question="?", dimensions=["attitude", "attitude"]).full_clean()
    survey = m.Survey.objects.create(name="CSAT", question="满意吗？", dimensions=["attitude", "reliability"])
    nps = m.Survey.objects.create(name="NPS", kind="nps", question="推荐吗？")
    response = m.SurveyResponse(survey=survey, customer=customer, token="t1", score=6)
    with pytest.raises(ValidationError):
        response.full_clean()  # CSAT is 1–5
    response.score, response.factor_scores = 5, {"attitude": 5, "communication": 4}
    with pytest.raises(ValidationError):
        response.full_clean()  # communication was not asked
    response.factor_scores = {"attitude": 5, "reliability": 0}
    with pytest.raises(ValidationError):
        response.full_clean()
    response.factor_scores = {"attitude": 5, "reliability": 4}
    response.full_clean()
    m.SurveyResponse(survey=nps, customer=customer, token="t2", score=10).full_clean()


@pytest.mark.django_db
def test_care_plan_invariants(customer):
    with pytest.raises(ValidationError):
        m.CarePlan(name="回访", trigger="no_contact", task_title="回访").full_clean()
    with pytest.raises(ValidationError):
        m.CarePlan(name="生日", trigger="birthday", action="message", message_subject="生日快乐").full_clean()
    plan = m.CarePlan.objects.create(name="生日", trigger="birthday", task_title="送生日祝福")
    m.CareAction.objects.create(plan=plan, customer=customer, due_date=timezone.localdate(), status="created")
    with pytest.raises(IntegrityError), transaction.atomic():
        m.CareAction.objects.create(
            plan=plan, customer=customer, due_date=timezone.localdate(), status="created"
        )


@pytest.mark.django_db
def test_routing_model_invariants():
    product = Product.objects.create(sku="PRN-7", name="打印机")
    with pytest.raises(ValidationError):
        m.Skill(kind="product", code="x", name="x").full_clean()
    skill = m.Skill(kind="product", code="anything", name="打印机", product=product)
    skill.full_clean()
    assert skill.code == "prn-7"
    with pytest.raises(ValidationError):
        m.Skill(kind="language", code="fr", name="Français").full_clean()
    with pytest.raises(ValidationError):
        m.RoutingRule(
            name="r", queue=m.Queue.objects.create(name="q", code="q"), channels=["fax"]
        ).full_clean()
