from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = _("Organisation and access")

    def ready(self) -> None:
        from . import registry, signin

        signin.connect()
        from .models import Department, Role, Team, User

        registry.register(User, owner_field=None, nav=False)
        registry.register(Department, owner_field=None, nav=False, assigned=("manager",))
        registry.register(Team, owner_field=None, nav=False, assigned=("leader", "members"))
        registry.register(Role, owner_field=None, nav=False)
