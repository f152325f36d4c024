from django.conf import settings

from kehu.core.selectors import unread_notifications

from . import navigation


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(request, "portal_user", None) is not None:
        return {"LANGUAGES_CHOICES": settings.LANGUAGES}
    return {
        "nav_sections": navigation.build(user),
        "unread_count": unread_notifications(user=user).count(),
        "LANGUAGES_CHOICES": settings.LANGUAGES,
    }
