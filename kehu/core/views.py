"""Administration pages: users, departments, teams, roles (grants and field restrictions), custom fields,
tags, ownership transfer, audit trail. Thin: parse, call a service, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.ui.generic import Column, RecordFormView, RecordListView

from . import audit, history, registry, services
from .access import Access
from .models import (
    Action,
    AuditAction,
    CustomField,
    Department,
    FieldAccess,
    FieldGrant,
    Role,
    Scope,
    Tag,
    Team,
    User,
)
from .selectors import audit_search


def _require_admin(request) -> None:
    access = Access.of(request.user)
    if not (access.is_superuser or access.can(Action.CHANGE, Role)):
        raise PermissionDenied(_("Administrators only."))


class AdminOnly:
    def dispatch(self, request, *args, **kwargs):
        _require_admin(request)
        return super().dispatch(request, *args, **kwargs)


# ------------------------------------------------------------------------------------------------ users
class UserList(AdminOnly, RecordListView):
    model = User
    title = gettext_lazy("Users")
    columns = [
        Column("username", gettext_lazy("Username"), "username", link=True),
        Column("display_name", gettext_lazy("Name"), "display_name"),
        Column("department", gettext_lazy("Department"), "department__name"),
        Column("email", gettext_lazy("Email"), "email"),
        Column("is_active", gettext_lazy("Active"), "is_active"),
    ]
    search_fields = ("username", "display_name", "email")
    select_related = ("department",)
    default_sort = "username"
    create_url_name = "core:user_create"
    detail_url_name = "core:user_edit"
    export_fields = ["username", "display_name", "email", "phone", "job_title", "is_active"]


class UserForm(forms.ModelForm):
    roles = forms.ModelMultipleChoiceField(
        Role.objects.all(), required=False, label=gettext_lazy("Roles"), widget=forms.CheckboxSelectMultiple
    )
    teams = forms.ModelMultipleChoiceField(
        Team.objects.all(), required=False, label=gettext_lazy("Teams"), widget=forms.CheckboxSelectMultiple
    )
    password = forms.CharField(
        label=gettext_lazy("New password"),
        required=False,
        widget=forms.PasswordInput,
        help_text=gettext_lazy("Leave empty to keep the current password."),
    )

    class Meta:
        model = User
        fields = [
            "username",
            "display_name",
            "email",
            "phone",
            "job_title",
            "department",
            "language",
            "is_active",
            "is_superuser",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["roles"].initial = list(self.instance.roles.all())
            self.fields["teams"].initial = list(self.instance.teams.all())
        else:
            self.fields["password"].required = True

    def clean_password(self):
        from django.contrib.auth.password_validation import validate_password

        value = self.cleaned_data.get("password")
        if value:
            validate_password(value, self.instance if self.instance.pk else None)
        return value


class UserEdit(AdminOnly, RecordFormView):
    model = User
    form_class = UserForm

    def form_data(self, form):
        data = super().form_data(form)
        for key in ("roles", "teams", "password"):
            data.pop(key, None)
        return data

    def save(self, form, obj):
        from . import records

        data = self.form_data(form)
        if obj is None:
            user = records.record_create(model=User, data=data, by=self.request.user)
        else:
            user = records.record_update(
                instance=obj,
                data=data,
                by=self.request.user,
                expected_version=form.cleaned_data.get("version"),
            )
        if form.cleaned_data.get("password"):
            user.set_password(form.cleaned_data["password"])
            user.save(update_fields=["password"])
            audit.log(
                actor=self.request.user,
                action=AuditAction.UPDATE,
                instance=user,
                changes={"password": ["***", "***"]},
            )
        services.user_roles_set(user=user, roles=list(form.cleaned_data["roles"]), by=self.request.user)
        before = sorted(t.name for t in user.teams.all())
        user.teams.set(form.cleaned_data["teams"])
        after = sorted(t.name for t in form.cleaned_data["teams"])
        if before != after:
            audit.log(
                actor=self.request.user,
                action=AuditAction.PERMISSION,
                instance=user,
                changes={"teams": [before, after]},
            )
        return user

    def success_url(self, obj):
        return reverse("core:users")


def lockouts(request):
    """Who may not sign in now (too many failures), and the administrator's unlock."""
    from . import signin

    _require_admin(request)
    if request.method == "POST":
        removed = signin.signin_unlock(
            username=request.POST.get("username", "")[:150],
            ip_address=request.POST.get("ip_address", "")[:45],
            by=request.user,
        )
        if removed:
            messages.success(request, _("Unlocked: the failed sign-ins were forgotten."))
        else:
            messages.info(request, _("Nothing to unlock."))
        return redirect("core:lockouts")
    return render(
        request,
        "core/lockouts.html",
        {"title": _("Sign-in lockouts"), "items": signin.lockouts_current(), "limit": signin.failure_limit()},
    )


# ------------------------------------------------------------------------------------------------ simple lists
class DepartmentList(AdminOnly, RecordListView):
    model = Department
    title = gettext_lazy("Departments")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("parent", gettext_lazy("Parent department"), "parent__name"),
        Column("manager", gettext_lazy("Manager"), "manager__username"),
    ]
    select_related = ("parent", "manager")
    default_sort = "name"
    search_fields = ("name",)
    create_url_name = "core:department_create"
    detail_url_name = "core:department_edit"


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["name", "parent", "manager"]


class DepartmentEdit(AdminOnly, RecordFormView):
    model = Department
    form_class = DepartmentForm

    def success_url(self, obj):
        return reverse("core:departments")


class TeamList(AdminOnly, RecordListView):
    model = Team
    title = gettext_lazy("Teams")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("department", gettext_lazy("Department"), "department__name"),
        Column("leader", gettext_lazy("Leader"), "leader__username"),
    ]
    select_related = ("department", "leader")
    default_sort = "name"
    search_fields = ("name",)
    create_url_name = "core:team_create"
    detail_url_name = "core:team_edit"


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "department", "leader", "members"]
        widgets = {"members": forms.CheckboxSelectMultiple}


class TeamEdit(AdminOnly, RecordFormView):
    model = Team
    form_class = TeamForm

    def success_url(self, obj):
        return reverse("core:teams")


# ------------------------------------------------------------------------------------------------ roles
class RoleForm(forms.ModelForm):
    class Meta:
        model = Role
        fields = ["code", "name", "description"]


def roles(request):
    _require_admin(request)
    form = RoleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        from . import records

        role = records.record_create(model=Role, data=form.cleaned_data, by=request.user)
        return redirect("core:role", pk=role.pk)
    items = Role.objects.prefetch_related("users").order_by("name")
    return render(
        request, "core/roles.html", {"roles": items, "form": form, "title": _("Roles & permissions")}
    )


def role_detail(request, pk):
    """The grants matrix of one role: actions and scopes per model, and field restrictions."""
    _require_admin(request)
    role = get_object_or_404(Role, pk=pk)
    models_ = registry.grantable_models()
    existing = {g.model: g for g in role.grants.all()}
    if request.method == "POST" and request.POST.get("form") == "grants":
        grants = []
        for entry in models_:
            label = entry.label
            data = {"model": label}
            any_action = False
            for act in Action.values:
                flag = bool(request.POST.get(f"{label}:{act}"))
                data[f"can_{act}"] = flag
                any_action = any_action or flag
            data["read_scope"] = request.POST.get(f"{label}:read_scope", Scope.OWN)
            data["write_scope"] = request.POST.get(f"{label}:write_scope", Scope.OWN)
            if data["read_scope"] not in Scope.values or data["write_scope"] not in Scope.values:
                messages.error(request, _("Invalid scope."))
                return redirect("core:role", pk=role.pk)
            if any_action:
                grants.append(data)
        try:
            services.role_grants_set(role=role, grants=grants, by=request.user)
            messages.success(request, _("Permissions saved."))
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        return redirect("core:role", pk=role.pk)
    if request.method == "POST" and request.POST.get("form") == "fields":
        label = request.POST.get("model", "")
        values = {
            key[len("field:") :]: value for key, value in request.POST.items() if key.startswith("field:")
        }
        try:
            services.role_field_access_set(role=role, model_label=label, values=values, by=request.user)
            messages.success(request, _("Field restrictions saved."))
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        return redirect(reverse("core:role", args=[role.pk]) + f"?model={label}")
    rows = []
    for entry in models_:
        g = existing.get(entry.label)
        rows.append(
            {
                "entry": entry,
                "grant": g,
                # a child record type (interactions, installed products) takes its scope from its parent
                "inherits": entry.parent(),
                "actions": [(a, label, bool(g and getattr(g, f"can_{a}"))) for a, label in Action.choices],
            }
        )
    field_model = registry.get(request.GET.get("model", "")) or (models_[0] if models_ else None)
    field_rows = []
    if field_model is not None:
        current = {
            fg.field: fg.access for fg in FieldGrant.objects.filter(role=role, model=field_model.label)
        }
        fields_ = field_model.security_fields() + (
            [_CustomStub()] if hasattr(field_model.model, "custom") else []
        )
        field_rows = [(f.name, f.verbose_name, current.get(f.name, FieldAccess.EDIT)) for f in fields_]
    return render(
        request,
        "core/role_detail.html",
        {
            "role": role,
            "rows": rows,
            "scopes": Scope.choices,
            "actions": Action.choices,
            "field_model": field_model,
            "field_rows": field_rows,
            "field_choices": FieldAccess.choices,
            "models": models_,
            "title": role.name,
            "members": role.users.all(),
        },
    )


class _CustomStub:
    name = "custom"
    verbose_name = gettext_lazy("custom fields")


# ------------------------------------------------------------------------------------------------ custom fields
class CustomFieldForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=gettext_lazy("Choices (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    class Meta:
        model = CustomField
        fields = ["model", "key", "label", "field_type", "required", "show_in_list", "position", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"] = forms.ChoiceField(
            label=gettext_lazy("Model"),
            choices=[
                (e.label, e.model._meta.verbose_name_plural)
                for e in registry.all_models()
                if hasattr(e.model, "custom")
            ],
        )
        if self.instance.pk:
            self.fields["choices_text"].initial = "\n".join(self.instance.choices or [])

    def clean(self):
        data = super().clean()
        self.instance.choices = [
            c.strip() for c in (data.get("choices_text") or "").splitlines() if c.strip()
        ]
        return data


def custom_fields(request):
    _require_admin(request)
    instance = None
    if request.GET.get("edit"):
        instance = get_object_or_404(CustomField, pk=request.GET["edit"])
    form = CustomFieldForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            before = audit.snapshot(instance) if instance else {}
            obj = form.save()
            audit.log(
                actor=request.user,
                action=AuditAction.UPDATE if instance else AuditAction.CREATE,
                instance=obj,
                changes=audit.diff(before, audit.snapshot(obj)),
            )
        messages.success(request, _("Custom field saved."))
        return redirect("core:customfields")
    items = CustomField.objects.all()
    return render(
        request,
        "core/custom_fields.html",
        {"items": items, "form": form, "editing": instance, "title": _("Custom fields")},
    )


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name", "color"]
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}


def tags(request):
    _require_admin(request)
    form = TagForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("delete"):
            tag = get_object_or_404(Tag, pk=request.POST["delete"])
            audit.log(
                actor=request.user,
                action=AuditAction.DELETE,
                instance=tag,
                changes={"name": [tag.name, None]},
            )
            tag.delete()
            return redirect("core:tags")
        if form.is_valid():
            tag = form.save()
            audit.log(
                actor=request.user,
                action=AuditAction.CREATE,
                instance=tag,
                changes={"name": [None, tag.name]},
            )
            return redirect("core:tags")
    return render(request, "core/tags.html", {"items": Tag.objects.all(), "form": form, "title": _("Tags")})


# ------------------------------------------------------------------------------------------------ transfer
class TransferForm(forms.Form):
    from_user = forms.ModelChoiceField(User.objects.all(), label=gettext_lazy("From (departing) user"))
    to_user = forms.ModelChoiceField(User.objects.filter(is_active=True), label=gettext_lazy("To user"))
    deactivate = forms.BooleanField(required=False, label=gettext_lazy("Deactivate the departing user"))


def transfer(request):
    _require_admin(request)
    form = TransferForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            moved = services.ownership_transfer(
                from_user=form.cleaned_data["from_user"],
                to_user=form.cleaned_data["to_user"],
                by=request.user,
                deactivate=form.cleaned_data["deactivate"],
            )
            total = sum(moved.values())
            messages.success(request, _("%(n)d records transferred.") % {"n": total})
            return redirect("core:transfer")
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    return render(request, "core/transfer.html", {"form": form, "title": _("Transfer records")})


# ------------------------------------------------------------------------------------------------ audit
class AuditFilterForm(forms.Form):
    model = forms.ChoiceField(required=False, label=gettext_lazy("Model"))
    object_id = forms.CharField(required=False, label=gettext_lazy("Record id"))
    actor = forms.ModelChoiceField(User.objects.all(), required=False, label=gettext_lazy("User"))
    action = forms.ChoiceField(
        required=False, choices=[("", "—"), *AuditAction.choices], label=gettext_lazy("Action")
    )
    since = forms.DateField(
        required=False, label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "—")] + [
            (e.label, e.model._meta.verbose_name_plural) for e in registry.all_models()
        ]


def audit_trail(request):
    # administrators, and roles granted view on the audit trail (the demo's executive)
    access = Access.of(request.user)
    if not (access.is_superuser or access.can(Action.VIEW, "core.auditentry")):
        _require_admin(request)
    form = AuditFilterForm(request.GET or None)
    filters = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
        if "actor" in filters:
            filters["actor"] = filters["actor"].pk
    qs = audit_search(user=request.user, filters=filters)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "core/audit.html",
        {
            "form": form,
            "page_obj": page,
            "items": history.present_mixed(page.object_list, user=request.user),
            "title": _("Audit trail"),
            "querystring": params.urlencode(),
        },
    )
