"""Sales API, quote to cash: quotes (+ lines, submit, decide, send, accept, decline, revise, order, contract,
pdf), orders (+ status by users or the ERP, idempotent; returns), contracts (+ status, instalment plan),
instalments, payments (finance, idempotent by external_ref), invoice requests (+ status from finance).

Reads start from the scope selectors (out of scope → 404); writes go through the sales services."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.api import (
    AccessAwareSerializer,
    CustomValuesField,
    ScopedModelViewSet,
    etag_for,
    version_from_if_match,
)
from kehu.core.selectors import get_visible, scoped

from .models import (
    Contract,
    Instalment,
    InvoiceRequest,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Payment,
    Quote,
    QuoteApproval,
    QuoteLine,
)
from .services import contracts, orders, quotes, receivables


def _respond(viewset, serializer_class, instance, code=status.HTTP_200_OK) -> Response:
    fresh = get_visible(instance.__class__, user=viewset.request.user, pk=instance.pk)
    response = Response(serializer_class(fresh, context={"request": viewset.request}).data, status=code)
    response["ETag"] = etag_for(fresh)
    return response


def _if_match(request, pk) -> int | None:
    return version_from_if_match(request.headers.get("If-Match"), pk)


# ------------------------------------------------------------------------------------------------ quotes
class QuoteLineSerializer(AccessAwareSerializer):
    class Meta:
        model = QuoteLine
        fields = [
            "id", "quote", "position", "product", "description", "quantity", "unit", "unit_price", "list_price",
            "discount_percent", "tax_rate", "gross_amount", "net_amount", "tax_amount", "total", "version",
        ]  # fmt: skip
        read_only_fields = [
            "position",
            "list_price",
            "gross_amount",
            "net_amount",
            "tax_amount",
            "total",
            "version",
        ]
        extra_kwargs = {"unit_price": {"required": False, "allow_null": True}}


class QuoteApprovalSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuoteApproval
        fields = [
            "id", "requested_by", "requested_at", "reason", "max_line_discount", "total_discount", "decision",
            "decided_by", "decided_at", "comment",
        ]  # fmt: skip
        read_only_fields = fields


class QuoteSerializer(AccessAwareSerializer):
    lines = QuoteLineSerializer(many=True, read_only=True)
    approvals = QuoteApprovalSerializer(many=True, read_only=True)

    class Meta:
        model = Quote
        fields = [
            "id", "number", "revision", "previous", "title", "customer", "contact", "opportunity", "price_list",
            "currency", "status", "issue_date", "valid_until", "terms", "language", "gross_amount",
            "discount_amount", "net_amount", "tax_amount", "total", "approval_required", "approved_by",
            "approved_at", "sent_at", "accepted_at", "owner", "lines", "approvals", "created_at", "version",
        ]  # fmt: skip
        read_only_fields = [
            "number", "revision", "previous", "status", "gross_amount", "discount_amount", "net_amount", "tax_amount",
            "total", "approval_required", "approved_by", "approved_at", "sent_at", "accepted_at", "created_at",
            "version",
        ]  # fmt: skip
        extra_kwargs = {
            "valid_until": {"required": False},
            "currency": {"required": False},
            "issue_date": {"required": False},
        }


class SubmitSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class SendSerializer(serializers.Serializer):
    email_to = serializers.EmailField(
        required=False, allow_blank=True, help_text="email the PDF to this address"
    )
    message = serializers.CharField(required=False, allow_blank=True)


class DecideSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True)


class QuoteViewSet(ScopedModelViewSet):
    model = Quote
    serializer_class = QuoteSerializer
    filterset_fields = ["status", "customer", "opportunity", "owner", "number", "currency"]
    select_related = ("customer", "owner")
    prefetch_related = ("lines", "approvals")
    ordering_fields = ["issue_date", "valid_until", "total", "id"]

    def save_new(self, data):
        customer = data.pop("customer")
        opportunity = data.pop("opportunity", None)
        price_list = data.pop("price_list", None)
        return quotes.quote_create(
            customer=customer, opportunity=opportunity, price_list=price_list, data=data, by=self.request.user
        )

    def save_existing(self, instance, data, expected_version):
        return quotes.quote_update(
            quote=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def _done(self, quote):
        return _respond(self, QuoteSerializer, quote)

    @extend_schema(request=SubmitSerializer, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Ask for approval (the discount exceeds the owner's limit); the approvers are notified."""
        quote = self.get_object()
        data = SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quotes.quote_submit(
            quote=quote,
            by=request.user,
            reason=data.validated_data.get("reason", ""),
            expected_version=_if_match(request, quote.pk),
        )
        return self._done(quote)

    @extend_schema(request=DecideSerializer, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Approve or reject the pending approval request (a comment is required to reject)."""
        quote = self.get_object()
        data = DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = get_object_or_404(QuoteApproval, quote=quote, decision="pending")
        quotes.quote_decide(
            approval=approval,
            approve=data.validated_data["approve"],
            comment=data.validated_data.get("comment", ""),
            by=request.user,
        )
        return self._done(quote)

    @extend_schema(request=SendSerializer, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        """Mark sent (timeline `sales.quote.sent`); with `email_to` the PDF is emailed and the email logged."""
        quote = self.get_object()
        data = SendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quotes.quote_send(
            quote=quote,
            by=request.user,
            expected_version=_if_match(request, quote.pk),
            email_to=data.validated_data.get("email_to", ""),
            message=data.validated_data.get("message", ""),
        )
        return self._done(quote)

    @extend_schema(request=None, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        quote = self.get_object()
        quotes.quote_respond(
            quote=quote, accepted=True, by=request.user, expected_version=_if_match(request, quote.pk)
        )
        return self._done(quote)

    @extend_schema(request=None, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        quote = self.get_object()
        quotes.quote_respond(
            quote=quote, accepted=False, by=request.user, expected_version=_if_match(request, quote.pk)
        )
        return self._done(quote)

    @extend_schema(request=None, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        """A new revision (201) superseding this one."""
        quote = self.get_object()
        new = quotes.quote_revise(quote=quote, by=request.user, expected_version=_if_match(request, quote.pk))
        return _respond(self, QuoteSerializer, new, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def order(self, request, pk=None):
        """The accepted quote as an order (one per quote)."""
        order = orders.order_from_quote(quote=self.get_object(), by=request.user)
        return _respond(self, OrderSerializer, order, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def contract(self, request, pk=None):
        """A draft contract from the accepted quote."""
        contract = contracts.contract_create(data={}, quote=self.get_object(), by=request.user)
        return _respond(self, ContractSerializer, contract, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("lang", str, enum=["zh-hans", "en"], required=False)],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        """The printable quote (fields hidden from your roles are not printed)."""
        from .pdf import quote_pdf

        quote = self.get_object()
        language = request.query_params.get("lang") or quote.language
        if language not in ("zh-hans", "en"):
            language = quote.language
        response = HttpResponse(
            quote_pdf(quote=quote, user=request.user, language=language), content_type="application/pdf"
        )
        response["Content-Disposition"] = f'inline; filename="{quote.number}-v{quote.revision}.pdf"'
        return response


class QuoteLineViewSet(ScopedModelViewSet):
    """Lines of editable quotes; every change recomputes the quote's totals and approval flag."""

    model = QuoteLine
    serializer_class = QuoteLineSerializer
    filterset_fields = ["quote", "product"]
    select_related = ("product",)
    ordering_fields: list[str] = []

    def save_new(self, data):
        quote = data.pop("quote")
        return quotes.quote_line_add(quote=quote, data=data, by=self.request.user)

    def save_existing(self, instance, data, expected_version):
        data.pop("quote", None)
        return quotes.quote_line_update(
            line=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def destroy(self, request, *args, **kwargs):
        quotes.quote_line_remove(line=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------------------------------------ orders
class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = [
            "id", "line_no", "product", "description", "quantity", "unit_price", "discount_percent", "tax_rate",
            "amount", "tax_amount", "delivered_quantity", "serial_numbers", "returned_line",
        ]  # fmt: skip
        read_only_fields = ["id", "line_no", "amount", "tax_amount", "delivered_quantity", "returned_line"]


class OrderSerializer(AccessAwareSerializer):
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "id", "number", "kind", "original", "customer", "order_date", "status", "status_changed_at", "currency",
            "net_amount", "tax_amount", "total", "quote", "opportunity", "contract", "external_ref",
            "shipping_address", "notes", "owner", "lines", "created_at", "version",
        ]  # fmt: skip
        read_only_fields = [
            "kind", "original", "status", "status_changed_at", "net_amount", "tax_amount", "total", "quote",
            "created_at", "version",
        ]  # fmt: skip
        extra_kwargs = {"number": {"required": False}, "external_ref": {"validators": []}}

    def update(self, instance, validated_data):  # pragma: no cover - writes go through the services
        raise NotImplementedError


class OrderStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=120)
    external_ref = serializers.CharField(required=False, allow_blank=True, max_length=120)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class ErpStatusSerializer(OrderStatusSerializer):
    external_ref = serializers.CharField(max_length=120)


class ReturnSerializer(serializers.Serializer):
    quantities = serializers.DictField(
        child=serializers.DecimalField(max_digits=12, decimal_places=3),
        required=False,
        help_text="{line id: quantity}",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class StatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderStatusChange
        fields = ["id", "from_status", "to_status", "at", "by", "idempotency_key", "note"]


class OrderViewSet(ScopedModelViewSet):
    model = Order
    serializer_class = OrderSerializer
    filterset_fields = [
        "status",
        "kind",
        "customer",
        "owner",
        "quote",
        "contract",
        "external_ref",
        "currency",
    ]
    select_related = ("customer", "owner")
    prefetch_related = ("lines",)
    ordering_fields = ["order_date", "total", "id"]

    def save_new(self, data):
        lines = data.pop("lines", [])
        ref = data.get("external_ref")
        if ref:
            existing = orders.order_by_ref(ref)
            if existing is not None:  # an ERP replay
                return existing
        return orders.order_create(data=data, lines=lines, by=self.request.user)

    def save_existing(self, instance, data, expected_version):
        from kehu.core import records

        data.pop("lines", None)
        return records.record_update(
            instance=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    @extend_schema(request=OrderStatusSerializer, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        """Change the status along the order flow; a repeated `idempotency_key` changes nothing."""
        order = self.get_object()
        data = OrderStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        orders.order_set_status(order=order, by=request.user, **data.validated_data)
        return _respond(self, OrderSerializer, order)

    @extend_schema(
        request=ErpStatusSerializer,
        responses={
            200: OrderSerializer,
            404: OpenApiResponse(description="No order with this external reference in your record scope."),
        },
    )
    @action(detail=False, methods=["post"], url_path="status-by-ref")
    def status_by_ref(self, request):
        """The ERP's status update, addressed by the order's `external_ref` (idempotent per key)."""
        data = ErpStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        order = get_visible(
            scoped(Order, user=request.user).filter(external_ref=values["external_ref"].strip()),
            user=request.user,
            pk=getattr(orders.order_by_ref(values["external_ref"]), "pk", 0),
        )
        orders.order_set_status(order=order, by=request.user, **values)
        return _respond(self, OrderSerializer, order)

    @extend_schema(request=ReturnSerializer, responses={201: OrderSerializer})
    @action(detail=True, methods=["post"], url_path="return")
    def create_return(self, request, pk=None):
        """A return order (negative lines) for some or all of a delivered order."""
        order = self.get_object()
        data = ReturnSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quantities = {int(k): v for k, v in (data.validated_data.get("quantities") or {}).items()} or None
        ret = orders.order_return(
            order=order, quantities=quantities, by=request.user, note=data.validated_data.get("note", "")
        )
        return _respond(self, OrderSerializer, ret, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=StatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        order = self.get_object()
        return Response(StatusChangeSerializer(order.status_changes.order_by("at", "id"), many=True).data)


# --------------------------------------------------------------------------------------------- contracts
class ContractSerializer(AccessAwareSerializer):
    custom = CustomValuesField(required=False)

    class Meta:
        model = Contract
        fields = [
            "id", "number", "title", "customer", "customer_signatory", "our_signatory", "opportunity", "quote",
            "amount", "currency", "start_date", "end_date", "signed_date", "status", "terms", "renewal_notice_days",
            "approved_by", "approved_at", "paid_amount", "invoiced_amount", "owner", "custom", "created_at", "version",
        ]  # fmt: skip
        read_only_fields = [
            "status", "approved_by", "approved_at", "paid_amount", "invoiced_amount", "created_at", "version",
        ]  # fmt: skip
        extra_kwargs = {"number": {"required": False}, "start_date": {"required": False}}


class ContractStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Contract._meta.get_field("status").choices)
    comment = serializers.CharField(required=False, allow_blank=True)
    signed_date = serializers.DateField(required=False, allow_null=True)


class PlanRowSerializer(serializers.Serializer):
    due_date = serializers.DateField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=300)


class InstalmentSerializer(AccessAwareSerializer):
    class Meta:
        model = Instalment
        fields = [
            "id",
            "contract",
            "sequence",
            "due_date",
            "amount",
            "currency",
            "paid_amount",
            "status",
            "is_overdue",
            "notes",
            "version",
        ]
        read_only_fields = fields


class ContractViewSet(ScopedModelViewSet):
    model = Contract
    serializer_class = ContractSerializer
    filterset_fields = ["status", "customer", "owner", "opportunity", "quote", "currency"]
    select_related = ("customer", "owner")
    ordering_fields = ["start_date", "end_date", "amount", "id"]

    def save_new(self, data):
        return contracts.contract_create(data=data, by=self.request.user)

    def save_existing(self, instance, data, expected_version):
        return contracts.contract_update(
            contract=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def destroy(self, request, *args, **kwargs):
        # the contract service also removes the attachments' stored files once the deletion commits
        instance = self.get_object()
        contracts.contract_delete(
            contract=instance, by=request.user, expected_version=self.expected_version(instance)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ContractStatusSerializer, responses=ContractSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        """submit (pending) → approve/reject (approver) → active (signed date) → expired/terminated."""
        contract = self.get_object()
        data = ContractStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contracts.contract_set_status(
            contract=contract,
            by=request.user,
            status=data.validated_data["status"],
            comment=data.validated_data.get("comment", ""),
            signed_date=data.validated_data.get("signed_date"),
            expected_version=_if_match(request, contract.pk),
        )
        return _respond(self, ContractSerializer, contract)

    @extend_schema(request=PlanRowSerializer(many=True), responses=InstalmentSerializer(many=True))
    @action(detail=True, methods=["get", "put"])
    def plan(self, request, pk=None):
        """The receivable plan (GET), or replace its unpaid instalments (PUT a list; the sum must equal the
        contract amount)."""
        contract = self.get_object()
        if request.method == "PUT":
            rows = PlanRowSerializer(data=request.data, many=True)
            rows.is_valid(raise_exception=True)
            receivables.instalment_plan_set(
                contract=contract, rows=list(rows.validated_data), by=request.user
            )
        qs = scoped(Instalment, user=request.user).filter(contract=contract).order_by("sequence")
        return Response(InstalmentSerializer(qs, many=True, context={"request": request}).data)


class InstalmentViewSet(ScopedModelViewSet):
    model = Instalment
    serializer_class = InstalmentSerializer
    filterset_fields = ["contract", "status"]
    ordering_fields = ["due_date", "id"]
    http_method_names = ["get", "head", "options"]


class PaymentSerializer(AccessAwareSerializer):
    allocations = serializers.DictField(
        child=serializers.DecimalField(max_digits=16, decimal_places=2),
        required=False,
        write_only=True,
        help_text="{instalment id: amount}; oldest due first when absent",
    )

    class Meta:
        model = Payment
        fields = [
            "id", "contract", "amount", "currency", "received_on", "method", "reference", "external_ref",
            "counts_as_actual", "notes", "allocations", "recorded_by", "created_at", "version",
        ]  # fmt: skip
        read_only_fields = ["currency", "recorded_by", "created_at", "version"]
        extra_kwargs = {"external_ref": {"validators": []}}


class PaymentViewSet(ScopedModelViewSet):
    """Payments received (回款); finance posts them with an `external_ref` (a replay returns the stored one)."""

    model = Payment
    serializer_class = PaymentSerializer
    filterset_fields = ["contract", "method", "external_ref"]
    ordering_fields = ["received_on", "id"]
    http_method_names = ["get", "post", "head", "options"]

    def save_new(self, data):
        contract = data.pop("contract")
        allocations = {int(k): v for k, v in (data.pop("allocations", None) or {}).items()} or None
        return receivables.payment_record(
            contract=contract, data=data, allocations=allocations, by=self.request.user
        )


class InvoiceRequestSerializer(AccessAwareSerializer):
    class Meta:
        model = InvoiceRequest
        fields = [
            "id", "contract", "invoice_type", "title", "tax_number", "address_phone", "bank_account", "amount",
            "currency", "status", "invoice_number", "issued_on", "external_ref", "requested_by", "notes",
            "created_at", "version",
        ]  # fmt: skip
        read_only_fields = [
            "currency",
            "status",
            "invoice_number",
            "issued_on",
            "requested_by",
            "created_at",
            "version",
        ]
        extra_kwargs = {"external_ref": {"validators": []}}


class InvoiceStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=InvoiceRequest._meta.get_field("status").choices)
    invoice_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    issued_on = serializers.DateField(required=False, allow_null=True)
    external_ref = serializers.CharField(required=False, allow_blank=True, max_length=120)


class InvoiceRequestViewSet(ScopedModelViewSet):
    model = InvoiceRequest
    serializer_class = InvoiceRequestSerializer
    filterset_fields = ["contract", "status", "invoice_type"]
    ordering_fields = ["created_at", "id"]
    http_method_names = ["get", "post", "head", "options"]

    def save_new(self, data):
        contract = data.pop("contract")
        return receivables.invoice_request_create(contract=contract, data=data, by=self.request.user)

    @extend_schema(request=InvoiceStatusSerializer, responses=InvoiceRequestSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        """Finance's answer: approved, issued (invoice number), rejected or cancelled."""
        invoice = self.get_object()
        data = InvoiceStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        receivables.invoice_set_status(invoice=invoice, by=request.user, **data.validated_data)
        return _respond(self, InvoiceRequestSerializer, invoice)


def register(router) -> None:
    router.register("quotes", QuoteViewSet, basename="quote")
    router.register("quote-lines", QuoteLineViewSet, basename="quote-line")
    router.register("orders", OrderViewSet, basename="order")
    router.register("contracts", ContractViewSet, basename="contract")
    router.register("instalments", InstalmentViewSet, basename="instalment")
    router.register("payments", PaymentViewSet, basename="payment")
    router.register("invoice-requests", InvoiceRequestViewSet, basename="invoice-request")
