"""Knowledge base (articles with versions, internal/public visibility, feedback) and the staff discussion
board (threads, replies, a marked solution)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel


class KbCategory(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("knowledge base category")
        verbose_name_plural = _("knowledge base categories")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        node, seen = self.parent, set()
        while node is not None and node.pk not in seen:
            if self.pk and node.pk == self.pk:
                raise ValidationError({"parent": _("A category cannot be placed under itself.")})
            seen.add(node.pk)
            node = node.parent


class ArticleVisibility(models.TextChoices):
    INTERNAL = "internal", _("Internal (staff only)")
    PUBLIC = "public", _("Public (portal)")


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class Article(VersionedModel):
    """A standard answer or document. Each published edit is kept as an ArticleVersion; `search_text` holds
    the search tokens (kehu.customers.keys machinery: CJK bigrams, pinyin, words) indexed by FTS5 on SQLite
    and a GIN-indexed tsvector on PostgreSQL (migration 0002)."""

    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    body = models.TextField(_("text"))
    category = models.ForeignKey(
        KbCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=ArticleVisibility.choices, default=ArticleVisibility.INTERNAL
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    products = models.ManyToManyField(
        "products.Product", verbose_name=_("products"), blank=True, related_name="+"
    )
    tags = models.ManyToManyField("core.Tag", verbose_name=_("tags"), blank=True, related_name="+")
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, editable=False)
    current_version = models.PositiveIntegerField(_("version number"), default=1, editable=False)
    helpful_count = models.PositiveIntegerField(_("helpful"), default=0, editable=False)
    not_helpful_count = models.PositiveIntegerField(_("not helpful"), default=0, editable=False)
    view_count = models.PositiveIntegerField(_("views"), default=0, editable=False)
    search_text = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("knowledge base")
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["status", "visibility", "-updated_at"], name="ix_article_listing"),
            models.Index(fields=["category", "status", "-updated_at"], name="ix_article_category"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("service:article", args=[self.pk])

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.title = clean_text(self.title)
        if not self.title:
            raise ValidationError({"title": _("Enter a title.")})
        if not (self.body or "").strip():
            raise ValidationError({"body": _("Enter the text.")})
        if self.status == ArticleStatus.PUBLISHED and self.published_at is None:
            self.published_at = timezone.now()
        from kehu.customers import keys

        tokens = keys.text_tokens(f"{self.title} {self.summary}") + keys.pinyin_tokens(self.title)
        tokens += keys.text_tokens(self.body[:20_000])
        self.search_text = " ".join(dict.fromkeys(keys.safe_token(t) for t in tokens if t))


class ArticleVersion(models.Model):
    article = models.ForeignKey(
        Article, verbose_name=_("article"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version number"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("what changed"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("article version")
        verbose_name_plural = _("article versions")
        ordering = ["article", "-number"]
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="uniq_article_version")]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"


class ArticleAttachment(models.Model):
    article = models.ForeignKey(
        Article, verbose_name=_("article"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to="service/kb/%Y/%m/", max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=120)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("article attachment")
        verbose_name_plural = _("article attachments")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.filename


class ArticleFeedback(models.Model):
    article = models.ForeignKey(
        Article, verbose_name=_("article"), on_delete=models.CASCADE, related_name="feedback"
    )
    helpful = models.BooleanField(_("helpful"))
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ticket = models.ForeignKey(
        "service.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["article", "-created_at"], name="ix_feedback_article")]

    def __str__(self) -> str:
        return f"{self.article_id}: {'+' if self.helpful else '-'}"


class DiscussionThread(VersionedModel):
    """A thread of the internal discussion board where staff share experience."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    category = models.ForeignKey(
        KbCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="threads",
    )
    product = models.ForeignKey(
        "products.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    solved = models.BooleanField(_("solved"), default=False, editable=False)
    reply_count = models.PositiveIntegerField(_("replies"), default=0, editable=False)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("discussion thread")
        verbose_name_plural = _("discussion board")
        ordering = ["-last_activity_at", "-id"]
        indexes = [models.Index(fields=["-last_activity_at", "-id"], name="ix_thread_activity")]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.title = clean_text(self.title)
        if not self.title:
            raise ValidationError({"title": _("Enter a title.")})


class DiscussionReply(VersionedModel):
    thread = models.ForeignKey(
        DiscussionThread, verbose_name=_("thread"), on_delete=models.CASCADE, related_name="replies"
    )
    body = models.TextField(_("text"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_solution = models.BooleanField(_("solution"), default=False, editable=False)

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["thread", "created_at"], name="ix_reply_thread")]
        constraints = [
            models.UniqueConstraint(
                fields=["thread"], condition=models.Q(is_solution=True), name="uniq_thread_solution"
            )
        ]

    def __str__(self) -> str:
        return f"{self.thread}: {self.body[:40]}"

    def clean(self) -> None:
        if not (self.body or "").strip():
            raise ValidationError({"body": _("Enter the text.")})
