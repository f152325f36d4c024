"""Customers: one table for organisations (accounts) and people (contacts and individual consumers).

- An *account* is a Customer of kind "organization"; it may have a parent account (branch → head office).
- A *contact* is a Customer of kind "person" whose `account` is set.
- An *individual* (B2C) customer is a person without an account.

Phones, emails, addresses, social ids, consent and lifecycle history are child rows; the primary phone and
email and the current consent are also stored on the customer for fast lists and campaign checks.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core.models import CustomFieldsModel, OwnedModel, Tag, VersionedModel

from . import normalize


class Kind(models.TextChoices):
    ORGANIZATION = "organization", _("Organisation")
    PERSON = "person", _("Person")


class CustomerType(models.TextChoices):
    CONSUMER = "consumer", _("End consumer")
    RETAILER = "retailer", _("Retailer")
    WHOLESALER = "wholesaler", _("Wholesaler")
    DISTRIBUTOR = "distributor", _("Distributor")
    BUSINESS = "business", _("Business customer")
    INTERNAL = "internal", _("Internal customer")
    PARTNER = "partner", _("Partner")


class Stage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    # the stage (a prospect who bought: 成交客户), not the word for any customer (客户) used as a column label
    CUSTOMER = "customer", pgettext_lazy("lifecycle stage", "Customer")
    LOYAL = "loyal", _("Loyal customer")
    AT_RISK = "at_risk", _("At risk")
    CHURNED = "churned", _("Churned")
    WON_BACK = "won_back", _("Won back")


class Source(models.TextChoices):
    WEB = "web", _("Website")
    REFERRAL = "referral", _("Referral")
    CAMPAIGN = "campaign", _("Campaign")
    TRADE_SHOW = "trade_show", _("Trade show")
    CALL = "call", _("Phone call")
    WALK_IN = "walk_in", _("Walk-in")
    PARTNER = "partner", _("Partner")
    SOCIAL = "social", _("Social media")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class AgeBand(models.TextChoices):
    UNDER_25 = "lt25", _("Under 25")
    A25_34 = "25_34", _("25–34")
    A35_44 = "35_44", _("35–44")
    A45_54 = "45_54", _("45–54")
    A55_PLUS = "55plus", _("55 and over")


class IncomeBand(models.TextChoices):
    LOW = "low", _("Low")
    MIDDLE = "middle", _("Middle")
    UPPER_MIDDLE = "upper_middle", _("Upper middle")
    HIGH = "high", _("High")


class DecisionDriver(models.TextChoices):
    PRICE = "price", _("Price")
    FUNCTION = "function", _("Function")
    TREND = "trend", _("Trend")


class FeedbackStrictness(models.TextChoices):
    TOLERANT = "tolerant", _("Tolerant")
    PATIENT = "patient", _("Patient")
    PERFECTIONIST = "perfectionist", _("Perfectionist")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone")
    WECHAT = "wechat", _("WeChat")
    POST = "post", _("Letter")
    FAX = "fax", _("Fax")


# The customer attributes people edit, in display order: forms, the API, exports, the 360° profile and the
# merge screen all start from this list.
PROFILE_FIELDS = [
    "name",
    "alias",
    "customer_type",
    "lifecycle_stage",
    "source",
    "phone",
    "email",
    "city",
    "job_title",
    "industry",
    "website",
    "tax_id",
    "gender",
    "birthday",
    "age_band",
    "occupation",
    "income_band",
    "decision_driver",
    "feedback_strictness",
    "preferred_language",
    "contact_person",
    "external_id",
    "source_created_on",
    "notes",
]


class Customer(OwnedModel, CustomFieldsModel):
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.ORGANIZATION)
    name = models.CharField(_("name"), max_length=200)
    alias = models.CharField(
        _("other name"), max_length=200, blank=True, help_text=_("English or short name, former name")
    )
    account = models.ForeignKey(
        "self",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        limit_choices_to={"kind": Kind.ORGANIZATION},
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="branches",
        limit_choices_to={"kind": Kind.ORGANIZATION},
    )
    customer_type = models.CharField(
        _("customer type"), max_length=12, choices=CustomerType.choices, default=CustomerType.BUSINESS
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=10, choices=Stage.choices, default=Stage.PROSPECT, db_index=True
    )
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, blank=True)
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    industry = models.CharField(_("industry"), max_length=120, blank=True)
    website = models.URLField(_("website"), blank=True)
    tax_id = models.CharField(_("tax id / credit code"), max_length=40, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    # the resident ID number is kept only as a keyed hash (for matching) and its masked form (identity.py)
    # db_default: rows inserted in bulk without the column (demo data, benchmarks)
    id_number_masked = models.CharField(
        _("ID number"), max_length=18, blank=True, editable=False, db_default=""
    )
    id_number_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True, db_default="")
    age_band = models.CharField(_("age band"), max_length=8, choices=AgeBand.choices, blank=True)
    occupation = models.CharField(_("occupation"), max_length=120, blank=True)
    income_band = models.CharField(_("income band"), max_length=14, choices=IncomeBand.choices, blank=True)
    decision_driver = models.CharField(
        _("purchase decision driver"), max_length=10, choices=DecisionDriver.choices, blank=True
    )
    feedback_strictness = models.CharField(
        _("feedback strictness"), max_length=14, choices=FeedbackStrictness.choices, blank=True
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    phone = models.CharField(
        _("phone"),
        max_length=20,
        blank=True,
        db_index=True,
        help_text=_("Primary phone, stored in international (E.164) form"),
    )
    email = models.CharField(_("email"), max_length=254, blank=True, db_index=True)
    city = models.CharField(_("city"), max_length=80, blank=True)
    contact_person = models.CharField(
        _("contact person"),
        max_length=120,
        blank=True,
        default="",
        db_default="",  # rows inserted in bulk without the column (demo data, benchmarks)
        help_text=_("Whom to ask for, when not a contact record"),
    )
    external_id = models.CharField(
        _("external id"),
        max_length=64,
        blank=True,
        db_index=True,
        default="",
        db_default="",
        help_text=_("The id in another system"),
    )
    source_created_on = models.DateField(
        _("created in the old system"),
        null=True,
        blank=True,
        help_text=_("When the system it came from created it"),
    )
    notes = models.TextField(_("notes"), blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")
    consent = models.JSONField(_("current consent"), default=dict, blank=True, editable=False)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        editable=False,
    )
    # search & duplicate keys, maintained by services on every write
    name_key = models.CharField(max_length=200, blank=True, editable=False, db_index=True)
    name_pinyin = models.CharField(max_length=400, blank=True, editable=False)
    name_initials = models.CharField(max_length=100, blank=True, editable=False)
    search_text = models.TextField(blank=True, editable=False)
    #: tokens of the fields a role may be denied, tagged per field (keys.py; searched per the user's rights)
    search_restricted = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["name"]),  # the customer list's default order (1.2 s → 2 ms at 1M)
            models.Index(fields=["owner", "name"]),
            models.Index(fields=["kind", "name"]),
            models.Index(fields=["lifecycle_stage", "name"]),  # list sorted by a column, then by name
            models.Index(fields=["city", "name"]),
            models.Index(fields=["account", "name"]),
            models.Index(fields=["-updated_at"]),
        ]

    choice_label_fields = ("name",)  # what __str__ reads (choice lists, list_only of other lists' rows)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("customers:detail", args=[self.pk])

    @property
    def is_organization(self) -> bool:
        return self.kind == Kind.ORGANIZATION

    @property
    def is_contact(self) -> bool:
        return self.kind == Kind.PERSON and self.account_id is not None

    def consent_rows(self) -> list[dict]:
        """The current consent per channel, for display: translated channel, status and method, local date."""
        rows = []
        for channel, state in (self.consent or {}).items():
            try:
                at = dt.datetime.fromisoformat(state.get("at", ""))
            except (TypeError, ValueError):
                at = None
            rows.append(
                {
                    "channel": _label(Channel, channel),
                    "status": state.get("status", ""),
                    "status_label": _label(ConsentStatus, state.get("status", "")),
                    "method": _label(ConsentMethod, state.get("method", "")),
                    "at": timezone.localtime(at) if at and timezone.is_aware(at) else at,
                }
            )
        return rows

    @property
    def phone_display(self) -> str:
        return normalize.format_phone(self.phone)

    @property
    def email_display(self) -> str:
        return normalize.display_email(self.email)

    def clean(self) -> None:
        errors = {}
        self.name = normalize.clean_text(self.name)
        self.alias = normalize.clean_text(self.alias)
        self.job_title = normalize.clean_text(self.job_title)
        self.city = normalize.clean_text(self.city)
        self.contact_person = normalize.clean_text(self.contact_person)
        self.external_id = normalize.clean_text(self.external_id)
        self.tax_id = normalize.clean_text(self.tax_id).upper()
        if not self.name:
            errors["name"] = _("Enter a name.")
        if self.phone:
            try:
                self.phone = normalize.normalize_phone(self.phone)
            except ValidationError as exc:
                errors["phone"] = exc.messages
        if self.email:
            try:
                self.email = normalize.normalize_email(self.email)
            except ValidationError as exc:
                errors["email"] = exc.messages
        if self.kind == Kind.ORGANIZATION and self.account_id:
            errors["account"] = _("An organisation cannot belong to an account; use parent account instead.")
        if self.kind == Kind.PERSON and self.parent_id:
            errors["parent"] = _("Only organisations have a parent account.")
        if self.pk and self.parent_id == self.pk:
            errors["parent"] = _("An account cannot be its own parent.")
        if self.pk and self.parent_id:
            node, seen = (
                Customer.objects.filter(pk=self.parent_id).values_list("parent_id", flat=True).first(),
                set(),
            )
            while node and node not in seen:
                if node == self.pk:
                    errors["parent"] = _("This parent would create a loop in the account hierarchy.")
                    break
                seen.add(node)
                node = Customer.objects.filter(pk=node).values_list("parent_id", flat=True).first()
        if self.birthday and self.birthday > timezone.localdate():
            errors["birthday"] = _("The birthday cannot be in the future.")
        if errors:
            raise ValidationError(errors)
        from . import keys

        keys.refresh(self)


class CustomerPhone(models.Model):
    class PhoneKind(models.TextChoices):
        MOBILE = "mobile", _("Mobile")
        WORK = "work", _("Work")
        HOME = "home", _("Home phone")
        FAX = "fax", _("Fax")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="phones")
    kind = models.CharField(_("type"), max_length=8, choices=PhoneKind.choices, default=PhoneKind.MOBILE)
    number = models.CharField(_("number"), max_length=20, db_index=True, help_text=_("E.164"))
    # db_default: rows inserted in bulk without the column (demo data, benchmarks) get no extension
    extension = models.CharField(_("extension"), max_length=10, blank=True, default="", db_default="")
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        verbose_name = _("phone")
        verbose_name_plural = _("phones")
        constraints = [models.UniqueConstraint(fields=["customer", "number"], name="uniq_customer_phone")]

    def __str__(self) -> str:
        return normalize.format_phone(self.number, self.extension)

    def clean(self) -> None:
        try:
            self.number, extension = normalize.split_phone(self.number)
        except ValidationError as exc:
            raise ValidationError({"number": exc.messages}) from None
        self.extension = normalize.clean_text(self.extension) or extension


class CustomerEmail(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="emails")
    email = models.CharField(_("email"), max_length=254, db_index=True)
    label = models.CharField(_("label"), max_length=40, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        verbose_name = _("email")
        verbose_name_plural = _("emails")
        constraints = [models.UniqueConstraint(fields=["customer", "email"], name="uniq_customer_email")]

    def __str__(self) -> str:
        return normalize.display_email(self.email)

    def clean(self) -> None:
        try:
            self.email = normalize.normalize_email(self.email)
        except ValidationError as exc:
            raise ValidationError({"email": exc.messages}) from None


class CustomerAddress(models.Model):
    class AddressKind(models.TextChoices):
        OFFICE = "office", _("Office")
        BILLING = "billing", _("Billing")
        SHIPPING = "shipping", _("Shipping")
        HOME = "home", _("Home address")
        SITE = "site", _("Installation site")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(_("type"), max_length=10, choices=AddressKind.choices, default=AddressKind.OFFICE)
    country = models.CharField(_("country"), max_length=2, default="CN")
    province = models.CharField(_("province"), max_length=60, blank=True)
    city = models.CharField(_("city"), max_length=60, blank=True)
    district = models.CharField(_("district"), max_length=60, blank=True)
    street = models.CharField(_("street address"), max_length=255)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self) -> str:
        if self.country == "CN":
            return "".join(p for p in (self.province, self.city, self.district, self.street) if p)
        return ", ".join(
            p for p in (self.street, self.city, self.province, self.postal_code, self.country) if p
        )

    def clean(self) -> None:
        for f in ("province", "city", "district", "street", "postal_code"):
            setattr(self, f, normalize.clean_text(getattr(self, f)))
        self.country = (self.country or "").upper()
        if self.country == "CN" and self.postal_code and not self.postal_code.isdigit():
            raise ValidationError({"postal_code": _("A Chinese postal code has 6 digits.")})
        if self.country == "CN" and self.postal_code and len(self.postal_code) != 6:
            raise ValidationError({"postal_code": _("A Chinese postal code has 6 digits.")})


class SocialIdentity(models.Model):
    class Network(models.TextChoices):
        WECHAT = "wechat", _("WeChat")
        WECOM = "wecom", _("WeCom")
        QQ = "qq", _("QQ")
        WEIBO = "weibo", _("Weibo")
        DINGTALK = "dingtalk", _("DingTalk")
        DOUYIN = "douyin", _("Douyin")
        WHATSAPP = "whatsapp", _("WhatsApp")
        LINE = "line", _("LINE")
        LINKEDIN = "linkedin", _("LinkedIn")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="social_ids")
    network = models.CharField(_("network"), max_length=10, choices=Network.choices)
    handle = models.CharField(_("id / handle"), max_length=120)

    class Meta:
        verbose_name = _("social id")
        verbose_name_plural = _("social ids")
        constraints = [
            models.UniqueConstraint(fields=["network", "handle"], name="uniq_social_network_handle")
        ]

    def __str__(self) -> str:
        return f"{self.get_network_display()}: {self.handle}"

    def clean(self) -> None:
        self.handle = normalize.clean_text(self.handle)
        if not self.handle:
            raise ValidationError({"handle": _("Enter the id.")})


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentMethod(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    PAPER = "paper", _("Signed paper form")
    VERBAL = "verbal", _("Verbal (recorded call)")
    EMAIL = "email", _("Email reply")
    PORTAL = "portal", _("Customer portal")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe link")
    IMPORT = "import", _("Import")
    STAFF = "staff", _("Entered by staff")


class ConsentEvent(models.Model):
    """Append-only history of marketing consent per channel; the latest event per channel is current."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=ConsentStatus.choices)
    method = models.CharField(_("how"), max_length=12, choices=ConsentMethod.choices)
    evidence = models.CharField(_("evidence"), max_length=300, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent history")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "channel", "-at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.get_status_display()}"


class LifecycleChange(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="lifecycle_changes")
    from_stage = models.CharField(_("from"), max_length=10, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to"), max_length=10, choices=Stage.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("lifecycle change")
        verbose_name_plural = _("lifecycle history")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_stage} → {self.to_stage}"


class MergeRecord(VersionedModel):
    """One merge of customers into a survivor, with what moved, so that it can be undone."""

    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges")
    merged = models.ManyToManyField(Customer, related_name="merge_records")
    survivor_before = models.JSONField(default=dict)
    moved = models.JSONField(default=dict, help_text="{model label: {field: [ids]}}")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"merge into {self.survivor_id}"


# Why two records look alike. Stored as [code, params] and translated when shown, so a scan run by the
# worker (in the default language) reads right in every user's language.
DUPLICATE_REASONS = {
    "same_phone": _("same phone %(p)s"),
    "same_email": _("same email %(e)s"),
    "same_name": _("same name"),
    "same_core": _("same company name without legal form or region (%(c)s)"),
    "same_sound": _("names sound the same (%(p)s)"),
    "similar_name": _("names %(n)d%% similar"),
    "kind_differs": _("one is an organisation, the other a person"),
    "other_accounts": _("contacts of different accounts"),
    "name_swapped": _("same name with family and given name swapped"),
    "name_part_missing": _("same name with one part missing"),
    "same_initials": _("same initials"),
    "same_name_part": _("one name part the same, the other different"),
    "name_differs": _("different names"),
    "same_core_other_region": _("same company name in another region (%(c)s)"),
    "same_birth_date": _("same date of birth"),
    "birth_day_month_swapped": _("date of birth with day and month swapped"),
    "birth_date_one_digit": _("date of birth one digit apart"),
    "same_birth_year": _("same year of birth"),
    "birth_date_differs": _("different dates of birth"),
    "same_id_number": _("same ID number"),
    "id_number_differs": _("different ID numbers"),
    "same_tax_id": _("same tax id"),
    "tax_id_differs": _("different tax ids"),
    "same_email_name": _("same email name at another domain"),
    "same_address": _("same address"),
    "similar_address": _("similar address"),
    "same_district": _("same district"),
    "same_city": _("same city"),
    "address_differs": _("different addresses"),
    "same_postcode": _("same postcode"),
    "gender_differs": _("different gender"),
    "linked_through": _("both match customer #%(c)s"),
}


#: reasons that quote a field's value, and how they read to a reader who may not see the field
REASON_FIELDS = {"same_phone": ("phone", _("same phone")), "same_email": ("email", _("same email"))}


def reason_text(reason, hidden=frozenset()) -> str:
    """One duplicate reason in the active language; rows stored as plain text are shown as they are. A reason
    quoting a field in `hidden` (the reader's hidden fields) leaves the value out."""
    if isinstance(reason, str):
        return reason
    code, params = reason[0], reason[1]
    if code in REASON_FIELDS and REASON_FIELDS[code][0] in hidden:
        return str(REASON_FIELDS[code][1])
    template = DUPLICATE_REASONS.get(code)
    return str(template) % params if template is not None else code


class DuplicateCandidate(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DISMISSED = "dismissed", _("Not a duplicate")
        MERGED = "merged", _("Merged")

    first = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("score"), db_index=True)
    reasons = models.JSONField(_("reasons"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("duplicate candidate")
        verbose_name_plural = _("duplicate candidates")
        ordering = ["-score"]
        constraints = [models.UniqueConstraint(fields=["first", "second"], name="uniq_duplicate_pair")]
        indexes = [models.Index(fields=["status", "-score"])]

    def __str__(self) -> str:
        return f"{self.first_id} ~ {self.second_id} ({self.score:.2f})"

    @property
    def reason_texts(self) -> list[str]:
        return [reason_text(r) for r in self.reasons]

    def reason_rows_for(self, hidden) -> list[dict]:
        """Each reason as a reader with these hidden fields may read it, with its match weight in bits
        (positive: evidence for, negative: against)."""
        return [
            {
                "text": reason_text(r, hidden),
                "weight": r[2] if not isinstance(r, str) and len(r) > 2 else None,
            }
            for r in self.reasons
        ]

    def reason_texts_for(self, hidden) -> list[str]:
        """The reasons as a reader with these hidden fields may read them."""
        return [reason_text(r, hidden) for r in self.reasons]


# the import models live with their use cases (kehu/customers/imports/); imported here so Django finds them
from .imports.models import ImportFile, ImportIssue, ImportJob, ImportRow  # noqa: E402, F401


def _label(choices: type[models.TextChoices], value: str) -> str:
    """The translated label of a stored code; an unknown code (an older or imported value) as it is."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value
