"""API authentication: the scoped tokens of kehu.integrations (`Authorization: Bearer kehu_…`, or
`Token kehu_…`) next to the older DRF tokens (`Token <40 hex>`) and the session. Failures of either kind count
against the client address like failed sign-ins (kehu.core.signin)."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from django.utils.translation import gettext as _
from rest_framework import exceptions

from kehu.core.signin import ThrottledTokenAuthentication, client_ip, cool_off, lockout_message

from . import tokens


class ApiTokenAuthentication(ThrottledTokenAuthentication):
    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _sep, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" or (
            scheme.lower() == "token" and credential.startswith(tokens.KEY_PREFIX)
        ):
            return self._scoped(request, credential)
        return super().authenticate(request)

    def _scoped(self, request, key: str):
        django_request = request._request
        credentials = {"username": f"api-token@{client_ip(django_request)}"}
        if not AxesProxyHandler.is_allowed(django_request, credentials):
            raise exceptions.Throttled(detail=lockout_message(), wait=int(cool_off().total_seconds()))
        token = tokens.token_check(key)
        if token is None:
            user_login_failed.send(sender=type(self), credentials=credentials, request=django_request)
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        return token.user, token
