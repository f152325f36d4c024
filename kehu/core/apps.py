from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = _("Organisation and access")

    def ready(self) -> None:
        from django.db import models
        from rest_framework import serializers

        from . import registry, signin
        from .api import DateTimeField

        # RFC 3339 date-times in every API response (no local-mean-time offsets such as +08:05:43)
        serializers.ModelSerializer.serializer_field_mapping[models.DateTimeField] = DateTimeField

        signin.connect()
        from django.db.models.signals import post_delete, post_save
        from django_tasks.signals import task_finished

        from .access import shares_changed
        from .models import Department, RecordShare, Role, Team, User
        from .observability import task_finished as count_finished_task

        task_finished.connect(count_finished_task, dispatch_uid="kehu.observability.task_finished")
        # the request's cached share probe is emptied by every share written (kehu.core.access, ADR 0017)
        post_save.connect(shares_changed, sender=RecordShare, dispatch_uid="kehu-shares-changed-save")
        post_delete.connect(shares_changed, sender=RecordShare, dispatch_uid="kehu-shares-changed-delete")

        registry.register(User, owner_field=None, nav=False)
        registry.register(Department, owner_field=None, nav=False, assigned=("manager",))
        registry.register(Team, owner_field=None, nav=False, assigned=("leader", "members"))
        registry.register(Role, owner_field=None, nav=False)
