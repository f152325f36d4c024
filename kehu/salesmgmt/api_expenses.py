"""Expense and performance API (ADR 0016): `/api/expenses/` (scoped; ETag/If-Match to change; receipts as
multipart; submit; decide) and `/api/performance/` (the performance page's figures)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer, OneObjectSchema, ScopedModelViewSet, etag_for

from . import selectors_expenses as sel
from . import selectors_performance as perf
from .api import _jsonable
from .models import Expense, ExpenseCategory, ExpenseReceipt
from .services import expenses as svc


class ExpenseReceiptSerializer(AccessAwareSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExpenseReceipt
        fields = ["id", "expense", "name", "size", "uploaded_by", "uploaded_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        return reverse("salesmgmt:receipt_download", args=[obj.pk])


class ExpenseSerializer(AccessAwareSerializer):
    receipts = ExpenseReceiptSerializer(many=True, read_only=True)

    class Meta:
        model = Expense
        fields = [
            "id", "owner", "category", "amount", "currency", "spent_on", "description", "opportunity", "visit",
            "customer", "status", "submitted_at", "decided_by", "decided_at", "decision_comment", "receipts",
            "version", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "customer", "status", "submitted_at", "decided_by", "decided_at", "decision_comment", "version",
            "created_at", "updated_at",
        ]  # fmt: skip


class ExpenseCategorySerializer(AccessAwareSerializer):
    class Meta:
        model = ExpenseCategory
        fields = ["id", "name", "active", "position", "version"]
        read_only_fields = ["version"]


class _Decision(serializers.Serializer):
    decision = serializers.ChoiceField(["approve", "reject"])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class _Receipt(serializers.Serializer):
    file = serializers.FileField()


class ExpenseViewSet(ScopedModelViewSet):
    """Expenses (the rep's own; a manager reads the department's). `?status=` filters. Creating one may carry
    receipts (multipart `receipts`, several) and `submit=true`; a refused file, a non-positive amount, a date
    in a closed month or an opportunity/visit out of reach answers 400 on that field and saves nothing."""

    model = Expense
    serializer_class = ExpenseSerializer
    select_related = ("category", "owner")
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        qs = super().get_queryset().prefetch_related("receipts")
        status = self.request.query_params.get("status") if self.request else None
        return qs.filter(status=status) if status else qs

    def save_new(self, data: dict):
        uploads = self.request.FILES.getlist("receipts") if hasattr(self.request, "FILES") else []
        svc.receipts_check([(u.name, u.size or 0) for u in uploads])
        files = [(u.name, u.read()) for u in uploads]
        submit = str(self.request.data.get("submit", "")).lower() in ("1", "true", "yes")
        return svc.expense_create(data=data, receipts=files, submit=submit, by=self.request.user)

    def save_existing(self, instance, data: dict, expected_version: int):
        return svc.expense_update(
            expense=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        expected = self.expected_version(instance)
        svc.expense_delete(expense=instance, by=request.user, expected_version=expected)
        return Response(status=204)

    def _answer(self, expense):
        expense = sel.expense_get(user=self.request.user, pk=expense.pk)
        response = Response(ExpenseSerializer(expense, context=self.get_serializer_context()).data)
        response["ETag"] = etag_for(expense)
        return response

    @extend_schema(request=None, responses=ExpenseSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit for approval (If-Match or `version` optional here: a stale version answers 409)."""
        expense = self.get_object()
        raw = request.headers.get("If-Match")
        expected = self.expected_version(expense) if raw else None
        return self._answer(svc.expense_submit(expense=expense, by=request.user, expected_version=expected))

    @extend_schema(request=_Decision, responses=ExpenseSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Approve or reject (a comment is needed to reject) — by an approver of the owner, never the owner."""
        expense = self.get_object()
        body = _Decision(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        done = svc.expense_decide(
            expense=expense, approve=d["decision"] == "approve", comment=d["comment"], by=request.user
        )
        return self._answer(done)

    @extend_schema(methods=["GET"], responses=ExpenseReceiptSerializer(many=True))
    @extend_schema(
        methods=["POST"], request={"multipart/form-data": _Receipt}, responses=ExpenseReceiptSerializer
    )
    @action(detail=True, methods=["get", "post"])
    def receipts(self, request, pk=None):
        expense = self.get_object()
        if request.method == "GET":
            rows = sel.expense_receipts(user=request.user, expense=expense)
            return Response(
                ExpenseReceiptSerializer(rows, many=True, context=self.get_serializer_context()).data
            )
        upload = request.FILES.get("file")
        if upload is None:
            raise exceptions.ValidationError({"file": ["Choose a file."]})
        svc.receipts_check([(upload.name, upload.size or 0)])
        receipt = svc.expense_receipt_add(
            expense=expense, name=upload.name, content=upload.read(), by=request.user
        )
        return Response(
            ExpenseReceiptSerializer(receipt, context=self.get_serializer_context()).data, status=201
        )


class ExpenseCategoryViewSet(ScopedModelViewSet):
    model = ExpenseCategory
    serializer_class = ExpenseCategorySerializer


_RepRow = inline_serializer(
    "PerformanceRow",
    {
        "rank": serializers.IntegerField(), "rep": serializers.IntegerField(), "name": serializers.CharField(),
        "quota": serializers.DecimalField(16, 2, allow_null=True), "actual": serializers.DecimalField(16, 2, allow_null=True),
        "attainment": serializers.DecimalField(8, 1, allow_null=True), "won_count": serializers.IntegerField(),
        "avg_deal": serializers.DecimalField(16, 2, allow_null=True),
        "win_rate": serializers.DecimalField(5, 1, allow_null=True),
        "cycle_days": serializers.DecimalField(8, 1, allow_null=True), "interactions": serializers.IntegerField(),
        "visits": serializers.IntegerField(), "expenses": serializers.DecimalField(16, 2, allow_null=True),
    },
)  # fmt: skip


def _row(r) -> dict:
    return {
        "rank": r.rank, "rep": r.user.pk, "name": str(r.user), "quota": r.quota, "actual": r.actual,
        "attainment": r.attainment, "won_count": r.won_count, "avg_deal": r.avg_deal, "win_rate": r.win_rate,
        "cycle_days": r.cycle_days, "interactions": r.interactions, "visits": r.visits, "expenses": r.expenses,
    }  # fmt: skip


class PerformanceViewSet(viewsets.ViewSet):
    """Performance of the reps the caller may see (`?period=2026|2026-Q3|2026-07`, `?team=`, `?rep=`)."""

    schema = OneObjectSchema()

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, required=False),
            OpenApiParameter("team", int, required=False),
            OpenApiParameter("rep", int, required=False),
        ],
        responses=inline_serializer(
            "Performance",
            {
                "period": serializers.CharField(), "currency": serializers.CharField(),
                "source": serializers.CharField(), "rows": serializers.ListField(child=_RepRow), "total": _RepRow,
                "funnel": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )  # fmt: skip
    def list(self, request):
        def number(name):
            raw = request.query_params.get(name)
            if raw in (None, ""):
                return None
            try:
                return int(raw)
            except ValueError:
                raise exceptions.ValidationError({name: ["Must be an integer."]}) from None

        data = perf.performance(
            user=request.user,
            period=perf.period_parse(request.query_params.get("period")),
            team_id=number("team"),
            rep_id=number("rep"),
        )
        body = {
            "period": data.period.label,
            "currency": data.currency,
            "source": data.source,
            "rows": [_row(r) for r in data.rows],
            "total": _row(data.total),
            "funnel": data.funnel,
        }
        return Response(_jsonable(body))


def register(router) -> None:
    router.register("expenses", ExpenseViewSet, basename="expense")
    router.register("expense-categories", ExpenseCategoryViewSet, basename="expensecategory")
    router.register("performance", PerformanceViewSet, basename="performance")
