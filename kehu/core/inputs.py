"""Input hygiene shared by every entry point (issue 7 item 6): what no database can store or no parser can
survive is refused with a clear 400 at the door, never turned into a 500 further in.

- NUL characters (PostgreSQL refuses them in text): `RejectNulMiddleware` checks query strings and form
  posts; the DRF parsers below check JSON, form and multipart bodies of every API verb.
- JSON nested deeper than `MAX_JSON_DEPTH` (Python's parser raises RecursionError on very deep input).
- Date-times with a UTC offset beyond ±15:59 (PostgreSQL's limit): refused in filters, others converted to UTC.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers

MAX_JSON_DEPTH = 64
MAX_OFFSET = dt.timedelta(hours=15, minutes=59)


def nul_message() -> str:
    return _("NUL characters are not allowed in input.")


def has_nul(data) -> bool:
    """True if any key or string value in a QueryDict/dict/list tree contains a NUL character."""
    if hasattr(data, "lists"):  # QueryDict / MultiValueDict
        return any("\x00" in key or any(has_nul(v) for v in values) for key, values in data.lists())
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return True
                stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def json_depth(data) -> int:
    depth, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            depth = max(depth, level)
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return depth


class RejectNulMiddleware:
    """400 for a NUL character in a query string or a POSTed form (names or values)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # a body Django cannot parse (too big, too many fields, broken multipart) raises here and Django answers
        # 400 itself, as it would in the view
        bad = has_nul(request.GET) or (
            request.method == "POST"
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
            and has_nul(request.POST)
        )
        if bad:
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": nul_message()}, status=400)
            return HttpResponse(nul_message(), status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, plus: too deep nesting and NUL characters are a 400 with a message."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON nested too deeply.")) from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(
                _("JSON nested too deeply (at most %(n)d levels).") % {"n": MAX_JSON_DEPTH}
            )
        if has_nul(data):
            raise exceptions.ParseError(nul_message())
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if has_nul(data):
            raise exceptions.ParseError(nul_message())
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        if has_nul(result.data):
            raise exceptions.ParseError(nul_message())
        return result


OFFSET_MESSAGE = gettext_lazy("Use a UTC offset between -15:59 and +15:59.")


def _to_utc(value):
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        if abs(value.utcoffset()) > MAX_OFFSET:
            raise ValueError
        return value.astimezone(dt.UTC)
    return value


def normalise_datetimes(form) -> bool:
    """After `form.is_valid()`: an aware date-time with an offset beyond ±15:59 (PostgreSQL's limit) becomes a
    form error; the others are converted to UTC, so every database compares them alike. Returns whether the
    form is still valid."""
    cleaned = getattr(form, "cleaned_data", None) or {}
    for name, value in list(cleaned.items()):
        try:
            if isinstance(value, slice):  # range filters
                cleaned[name] = slice(_to_utc(value.start), _to_utc(value.stop))
            else:
                cleaned[name] = _to_utc(value)
        except ValueError:
            form.add_error(name, OFFSET_MESSAGE)
    return not form.errors


def safe_next(request, fallback: str = "/") -> str:
    """The `next` the request names (POST, else GET) if it stays on this site, else `fallback`. Every view that
    redirects to a `next` uses this: `//evil.example/x`, `/\\evil.example`, `https://evil.example` are refused."""
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    ok = nxt.startswith("/") and url_has_allowed_host_and_scheme(
        nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return nxt if ok else fallback
