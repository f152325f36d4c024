"""Reusable record pages: list (sort, filter, saved views, pagination, bulk actions, export), detail with
activity sidebar, create/edit form with field-level security and optimistic locking, delete.

Apps subclass these with a handful of attributes; every query starts from kehu.core.selectors.scoped and
every write goes through kehu.core.records, so no page can forget scope, rights, locking or audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from kehu.core import customfields, exports, layouts, records, registry
from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError, FieldNotWritable, StaleRecordError
from kehu.core.filters import drop_hidden_filters, visible_ordering
from kehu.core.history import present as present_history
from kehu.core.inputs import normalise_datetimes, safe_next
from kehu.core.models import Action, CustomFieldType, SavedView, Tag, User
from kehu.core.pagination import MAX_COUNT, CappedPaginator  # noqa: F401 - MAX_COUNT re-exported for apps
from kehu.core.selectors import get_visible, record_history, saved_views, scoped

from .widgets import choice_rows, fast_selects, rows_html


@dataclass
class Column:
    name: str
    label: str = ""
    sort: str | None = None  # order_by expression; None = not sortable
    template: str | None = None  # a template rendering the cell with `obj`
    link: bool = False
    field: str | None = None  # the model field the column shows, when its name is not one (field rights)


class AccessMixin:
    model = None
    required_action = Action.VIEW

    @cached_property
    def access(self) -> Access:
        return Access.of(self.request.user)

    def dispatch(self, request, *args, **kwargs):
        if not Access.of(request.user).can(self.required_action, self.model):
            raise PermissionDenied(_("You do not have access to this page."))
        return super().dispatch(request, *args, **kwargs)

    def base_queryset(self) -> QuerySet:
        return scoped(self.model, user=self.request.user)

    def model_context(self) -> dict:
        meta = self.model._meta
        return {
            "model_label": meta.label_lower,
            "verbose_name": meta.verbose_name,
            "verbose_name_plural": meta.verbose_name_plural,
            "can": {a: self.access.can(a, self.model) for a in Action.values},
        }


class RecordListView(AccessMixin, TemplateView):
    template_name = "ui/list.html"
    columns: list[Column] = []
    filterset_class = None
    search_fields: tuple[str, ...] = ()
    default_sort = "-pk"
    paginate_by = 25
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    export_fields: list[str] = []
    title = None
    create_url_name: str | None = None
    detail_url_name: str | None = None
    row_template = None
    list_key: str | None = None
    #: the fields the rows show (names of the model's fields; a foreign key loads the related record's
    #: `choice_label_fields`): the page's rows are read with these columns only, not every column of the
    #: record and of each select_related record (search vectors, JSON, texts). None: every column.
    list_only: tuple[str, ...] | None = None

    @cached_property
    def shared_choices(self) -> dict:
        """Choices read once per page, by queryset SQL (see kehu.ui.widgets.fast_selects)."""
        return {}

    def active_user_choices(self) -> list[tuple[int, str]]:
        """The active users as (pk, label), read once per page: the owner filter and the bulk action's owner
        select both show them."""
        queryset = User.objects.filter(is_active=True)
        key = str(queryset.query)
        if key not in self.shared_choices:
            self.shared_choices[key] = choice_rows(queryset)
        return self.shared_choices[key]

    def only_fields(self) -> list[str]:
        """`list_only` as .only() arguments: the primary key, each field, a foreign key's id and its related
        record's label fields, and the custom values when a custom column is shown."""
        meta = self.model._meta
        fields = [meta.pk.name]
        for name in self.list_only or ():
            field = meta.get_field(name)
            fields.append(name)
            if field.is_relation and field.many_to_one:
                related = field.related_model
                labels = getattr(related, "choice_label_fields", None)
                if labels is None:
                    raise ValueError(f"{related._meta.label} declares no choice_label_fields for list_only")
                fields += [f"{name}__{related._meta.pk.name}", *(f"{name}__{f}" for f in labels)]
        if any(c.name.startswith("custom.") for c in self.visible_columns()):
            fields.append("custom")
        return fields

    def get_list_key(self) -> str:
        return self.list_key or self.model._meta.label_lower

    def search(self, qs, term: str):
        from django.db.models import Q

        # a field the user may not see is not searched: a match would reveal its value (ADR 0009)
        hidden = self.access.hidden_fields(self.model)
        cond = Q(pk__in=[])
        for f in self.search_fields:
            if f.split("__")[0] not in hidden:
                cond |= Q(**{f"{f}__icontains": term})
        return qs.filter(cond)

    def sort_options(self) -> dict[str, str]:
        return {c.name: c.sort for c in self.columns if c.sort}

    def filtered_queryset(self):
        qs = self.base_queryset()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        self.filterset = None
        if self.filterset_class is not None:
            self.filterset = self.filterset_class(self.request.GET or None, queryset=qs, request=self.request)
            drop_hidden_filters(self.filterset, self.access.hidden_fields(self.model))
            fast_selects(self.filterset.form, shared=self.shared_choices)
            if (
                self.filterset.is_bound
                and self.filterset.is_valid()
                and normalise_datetimes(self.filterset.form)
            ):
                qs = self.filterset.qs
        term = self.request.GET.get("q", "").strip()
        if term:
            qs = self.search(qs, term)
        qs = qs.filter(**self.custom_filters())
        sort = self.request.GET.get("sort", "")
        key = sort.lstrip("-")
        options = self.sort_options()
        if key in options and visible_ordering([options[key]], self.access.hidden_fields(self.model)):
            # ties broken by the list's default order (by name within a stage, a city...) in the chosen
            # direction, so that a (column, name) index serves the sort on large tables, forwards or backwards
            descending = sort.startswith("-")
            ties = [f.lstrip("-") for f in (self.default_sort, "pk") if f.lstrip("-") != options[key]]
            fields = [("-" if descending else "") + f for f in dict.fromkeys([options[key], *ties])]
        else:
            fields = [self.default_sort, "-pk"] if self.default_sort != "-pk" else ["-pk"]
        return self.order(qs, fields, searching=bool(term))

    def order(self, qs, fields: list[str], *, searching: bool):
        """Hook: the list's ORDER BY (`searching` when the text filter is active)."""
        return qs.order_by(*fields)

    def custom_filters(self) -> dict:
        """?cf_<key>=value filters on custom fields (exact match; number/boolean coerced)."""
        result = {}
        for d in self.custom_definitions:
            raw = self.request.GET.get(customfields.FORM_PREFIX + d.key, "").strip()
            if raw:
                try:
                    result[f"custom__{d.key}"] = customfields.clean_value(d, raw)
                except ValidationError:
                    messages.warning(self.request, _("Ignored invalid filter for %(f)s.") % {"f": d.label})
        return result

    def custom_filter_fields(self) -> list[dict]:
        """The list's custom-field filters as the form shows them: a choice or yes/no field is a select of its
        values, a date a date input, a number a number input; each keeps the value of the current request."""
        fields = []
        for d in self.custom_definitions:
            name = customfields.FORM_PREFIX + d.key
            choices: list[tuple[str, str]] = []
            if d.field_type == CustomFieldType.CHOICE:
                choices = [(c, c) for c in d.choices]
            elif d.field_type == CustomFieldType.BOOLEAN:
                choices = [("true", _("Yes")), ("false", _("No"))]
            fields.append(
                {
                    "name": name,
                    "label": d.label,
                    "kind": d.field_type,
                    "value": self.request.GET.get(name, ""),
                    "choices": choices,
                }
            )
        return fields

    @cached_property
    def custom_definitions(self):
        if not hasattr(self.model, "custom") or "custom" in self.access.hidden_fields(self.model):
            return []
        return customfields.definitions(self.model)

    def visible_columns(self) -> list[Column]:
        hidden = self.access.hidden_fields(self.model)
        # a computed column ("phone_display") follows the field it shows
        cols = [c for c in self.columns if (c.field or c.name.removesuffix("_display")) not in hidden]
        for d in self.custom_definitions:
            if d.show_in_list:
                cols.append(Column(f"custom.{d.key}", d.label))
        # the role's layout picks and orders the columns among those (never one the rights removed)
        return layouts.list_columns(cols, layouts.layout_for(self.request.user, self.model))

    def get(self, request, *args, **kwargs):
        if not request.GET:
            defaults = layouts.default_filters(
                layouts.layout_for(request.user, self.model), hidden=self.access.hidden_fields(self.model)
            )
            if defaults:  # the layout's default filters, visible in the address (clearing them keeps "?")
                return HttpResponseRedirect(f"{request.path}?{urlencode(defaults)}")
        fmt = request.GET.get("export")
        if fmt in {"csv", "xlsx"}:
            if not self.access.can(Action.EXPORT, self.model):
                raise PermissionDenied(_("You do not have the export right."))
            qs = self.filtered_queryset()
            cols = exports.columns_for(self.model, self.export_fields, user=request.user)
            return exports.export_response(
                qs, cols, fmt=fmt, filename=str(self.model._meta.verbose_name_plural), user=request.user
            )
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        qs = self.filtered_queryset()
        number = self.request.GET.get("page", "")
        paginator = CappedPaginator(qs, self.paginate_by, page=int(number) if number.isdigit() else 1)
        page: Page = paginator.get_page(number)
        if self.list_only is not None:
            page.object_list = page.object_list.only(*self.only_fields())
        params = self.request.GET.copy()
        params.pop("page", None)
        sort_params = params.copy()
        sort_params.pop("sort", None)
        ctx.update(self.model_context())
        ctx.update(
            {
                "title": self.title or self.model._meta.verbose_name_plural,
                "page_obj": page,
                "objects": page.object_list,
                "count_capped": not paginator.count_exact,
                "count": paginator.shown_count,
                "columns": self.visible_columns(),
                "sort": self.request.GET.get("sort", ""),
                "querystring": params.urlencode(),
                "sort_querystring": sort_params.urlencode(),
                "filterset": self.filterset,
                "q": self.request.GET.get("q", ""),
                "saved_views": saved_views(user=self.request.user, list_key=self.get_list_key()),
                "list_key": self.get_list_key(),
                "create_url_name": self.create_url_name,
                "detail_url_name": self.detail_url_name,
                "row_template": self.row_template,
                "custom_filters": self.custom_filter_fields(),
                "bulk_user_options": rows_html(self.active_user_choices(), set(), self.shared_choices)
                if self.access.can(Action.TRANSFER, self.model)
                else "",
                "bulk_tags": Tag.objects.all() if hasattr(self.model, "tags") else [],
                "bulk_url": self.request.path + "bulk/",
            }
        )
        return ctx


class BulkActionView(AccessMixin, View):
    """POST ids + action. Records are resolved through the write scope first; each change goes through
    the record service (so rights, field restrictions and audit apply per record)."""

    def post(self, request, *args, **kwargs):
        ids = [i for i in request.POST.getlist("ids") if i.isdigit()]
        action = request.POST.get("action", "")
        back = safe_next(request, request.path.rsplit("bulk/", 1)[0])
        if not ids:
            messages.warning(request, _("Select at least one record."))
            return HttpResponseRedirect(back)
        owner = tag = None
        if action == "owner":
            owner = User.objects.filter(pk=_int_or_none(request.POST.get("owner")), is_active=True).first()
            if owner is None:
                messages.error(request, _("Choose an active user as the new owner."))
                return HttpResponseRedirect(back)
        elif action == "tag":
            tag = Tag.objects.filter(pk=_int_or_none(request.POST.get("tag"))).first()
            if tag is None:
                messages.error(request, _("Choose a tag."))
                return HttpResponseRedirect(back)
        readable = scoped(self.model, user=request.user).filter(pk__in=ids)
        objs = list(readable)
        done, failed = 0, []
        for obj in objs:
            try:
                with transaction.atomic():
                    if action == "delete":
                        records.record_delete(instance=obj, by=request.user)
                    elif owner is not None:
                        records.record_update(
                            instance=obj, data={"owner": owner}, by=request.user, expected_version=None
                        )
                    elif tag is not None:
                        records.record_update(
                            instance=obj,
                            data={"tags": [*obj.tags.all(), tag]},
                            by=request.user,
                            expected_version=None,
                        )
                    else:
                        raise ValidationError(_("Unknown action."))
                done += 1
            except (PermissionDenied, ValidationError, Http404) as exc:
                failed.append(f"{obj}: {_message(exc)}")
        if done:
            messages.success(request, _("%(n)d records updated.") % {"n": done})
        missing = len(ids) - len(objs)
        if missing:
            failed.append(_("%(n)d records are not visible to you.") % {"n": missing})
        for text in failed[:10]:
            messages.error(request, text)
        return HttpResponseRedirect(back)


def _int_or_none(value) -> int | None:
    return int(value) if value and str(value).isdigit() else None


def _message(exc) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, Http404):
        return _("not found")
    return str(exc) or _("not allowed")


class SavedViewCreate(View):
    def post(self, request):
        name = request.POST.get("name", "").strip()[:80]
        key = request.POST.get("list_key", "")[:100]
        query = request.POST.get("query", "")[:2000]
        back = safe_next(request)
        if not name:
            messages.error(request, _("Give the view a name."))
        else:
            SavedView.objects.create(
                user=request.user,
                list_key=key,
                name=name,
                query=query,
                shared=bool(request.POST.get("shared")),
            )
            messages.success(request, _("View saved."))
        return HttpResponseRedirect(back)


class SavedViewDelete(View):
    def post(self, request, pk):
        SavedView.objects.filter(pk=pk, user=request.user).delete()
        return HttpResponseRedirect(safe_next(request))


class RecordDetailView(AccessMixin, TemplateView):
    template_name = "ui/detail.html"
    fields: list[str] = []
    select_related: tuple[str, ...] = ()
    edit_url_name: str | None = None
    delete_url_name: str | None = None

    def get_object(self):
        qs = self.base_queryset()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        return get_visible(qs, user=self.request.user, pk=self.kwargs["pk"])

    def field_rows(self, obj) -> list[tuple[str, object]]:
        return list(self._named_rows(obj).values())

    def field_sections(self, obj) -> list[tuple[str, list]] | None:
        """The rows in the sections of the reader's layout (None without one); rows the rights removed stay
        out. A page with its own rows (an overridden `field_rows`) keeps them."""
        if type(self).field_rows is not RecordDetailView.field_rows:
            return None
        return layouts.detail_sections(
            self._named_rows(obj), layouts.layout_for(self.request.user, self.model)
        )

    def _named_rows(self, obj) -> dict[str, tuple[str, object]]:
        cached = getattr(self, "_rows_cache", None)
        if cached is not None and cached[0] is obj:
            return cached[1]
        hidden = self.access.hidden_fields(self.model)
        rows: dict[str, tuple[str, object]] = {}
        layout = layouts.layout_for(self.request.user, self.model)
        # a layout may show more of the model's fields than the page lists; the rights still decide
        names = list(self.fields)
        if layout is not None:
            known = {f.name for f in layouts.model_fields(self.model._meta.label_lower)}
            names += [n for n in layout.order() if n in known and n not in names]
        for name in names:
            if name in hidden:
                continue
            field = self.model._meta.get_field(name)
            if getattr(field, "many_to_many", False):
                value = ", ".join(str(v) for v in getattr(obj, name).all())
            elif hasattr(obj, f"get_{name}_display"):
                value = getattr(obj, f"get_{name}_display")()
            else:
                value = getattr(obj, name)
            rows[name] = (field.verbose_name, value)
        if hasattr(obj, "custom") and "custom" not in hidden:
            for d in customfields.definitions(self.model):
                rows[f"custom.{d.key}"] = (d.label, (obj.custom or {}).get(d.key))
        self._rows_cache = (obj, rows)
        return rows

    def history_extra_ids(self, obj) -> list:
        """Ids of other records of the same model whose history belongs on this page (e.g. merged ones)."""
        return []

    def history(self, obj):
        entries = record_history(obj, user=self.request.user, extra_ids=self.history_extra_ids(obj))[:50]
        return present_history(entries, model=self.model, user=self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        obj = self.get_object()
        ctx.update(self.model_context())
        ctx.update(
            {
                "object": obj,
                "field_rows": self.field_rows(obj),
                "field_sections": self.field_sections(obj),
                "history": self.history(obj),
                "can_write": self.access.can(Action.CHANGE, self.model) and self.access.can_write_record(obj),
                "edit_url_name": self.edit_url_name,
                "delete_url_name": self.delete_url_name,
            }
        )
        return ctx


class RecordFormView(AccessMixin, TemplateView):
    """Create (no pk) or edit (pk) one record through the record service."""

    template_name = "ui/form.html"
    form_class: type[forms.ModelForm] = None
    success_url_name: str | None = None
    select_related: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        self.required_action = Action.CHANGE if "pk" in kwargs else Action.ADD
        return super().dispatch(request, *args, **kwargs)

    def get_object(self):
        if "pk" not in self.kwargs:
            return None
        obj = get_visible(
            self.base_queryset().select_related(*self.select_related),
            user=self.request.user,
            pk=self.kwargs["pk"],
        )
        if not self.access.can_write_record(obj):
            raise PermissionDenied(_("You may see this record but not change it."))
        return obj

    def get_form_kwargs(self) -> dict:
        return {}

    def build_form(self, obj, data=None):
        form = self.form_class(data=data, instance=obj, **self.get_form_kwargs())
        hidden = self.access.hidden_fields(self.model)
        readonly = self.access.readonly_fields(self.model)
        if obj is None:
            entry = registry.get(self.model)
            if entry and entry.owner_field in readonly and entry.owner_field in form.fields:
                del form.fields[entry.owner_field]  # defaults to the creator
        entry = registry.get(self.model)
        attribution = (*entry.attribution, *entry.system) if entry else ()
        for name in list(form.fields):
            if name in hidden or (obj is None and name in attribution):
                del form.fields[name]  # attribution: the record service sets it to the creator
            elif name in readonly or name in attribution:
                form.fields[name].disabled = True
        form.fields["version"] = forms.IntegerField(
            widget=forms.HiddenInput, required=False, initial=getattr(obj, "version", None)
        )
        if hasattr(self.model, "custom") and "custom" not in hidden:
            names = customfields.add_to_form(form, self.model, obj)
            if "custom" in readonly:
                for n in names:
                    form.fields[n].disabled = True
        # the role's layout, on what the rights left: order, sections, required, read-only, help texts
        layouts.apply_to_form(form, layouts.layout_for(self.request.user, self.model), hidden=hidden)
        return form

    def form_data(self, form) -> dict:
        """The model data to write: the form's changed model fields (disabled ones excluded)."""
        data = {}
        for name, field in form.fields.items():
            if name == "version" or name.startswith(customfields.FORM_PREFIX) or field.disabled:
                continue
            if name in form.cleaned_data and name in {f.name for f in self.model._meta.get_fields()}:
                data[name] = form.cleaned_data[name]
        custom = customfields.from_form(form.cleaned_data)
        if custom:
            data["custom"] = {
                k: (
                    v.isoformat()
                    if hasattr(v, "isoformat")
                    else (str(v) if v is not None and not isinstance(v, bool) else v)
                )
                for k, v in custom.items()
            }
        return data

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            return records.record_create(model=self.model, data=data, by=self.request.user)
        return records.record_update(
            instance=obj, data=data, by=self.request.user, expected_version=form.cleaned_data.get("version")
        )

    def success_url(self, obj) -> str:
        return obj.get_absolute_url()

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        return self.render_to_response(self.context(self.build_form(obj), obj))

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        form = self.build_form(obj, data=request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    saved = self.save(form, obj)
                messages.success(request, _("Saved."))
                return redirect(self.success_url(saved))
            except StaleRecordError as exc:
                form.add_error(None, exc.message)
            except FieldNotWritable as exc:
                form.add_error(None, str(exc))
            except BusinessRuleError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except ValidationError as exc:
                _apply_errors(form, exc)
        return self.render_to_response(self.context(form, obj), status=400 if form.errors else 200)

    def context(self, form, obj) -> dict:
        ctx = self.get_context_data()
        ctx.update(self.model_context())
        ctx.update(
            {
                "form": form,
                "object": obj,
                "title": (_("Edit %(name)s") % {"name": obj})
                if obj
                else (_("New %(model)s") % {"model": self.model._meta.verbose_name}),
            }
        )
        return ctx


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field
            if field.startswith("custom."):
                target = customfields.FORM_PREFIX + field[7:]
            form.add_error(target if target in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class RecordDeleteView(AccessMixin, View):
    required_action = Action.DELETE
    success_url_name: str = "ui:home"

    def post(self, request, pk):
        obj = get_visible(self.base_queryset(), user=request.user, pk=pk)
        version = request.POST.get("version")
        try:
            records.record_delete(
                instance=obj,
                by=request.user,
                expected_version=int(version) if version and version.isdigit() else None,
            )
            messages.success(request, _("Deleted %(name)s.") % {"name": obj})
        except (ValidationError, StaleRecordError) as exc:
            messages.error(
                request, exc.message if isinstance(exc, StaleRecordError) else "; ".join(exc.messages)
            )
            return redirect(obj.get_absolute_url())
        from django.urls import reverse

        return redirect(reverse(self.success_url_name))


def querystring(params: dict) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


NOT_SET = gettext_lazy("—")
