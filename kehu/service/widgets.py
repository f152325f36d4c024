"""Contributions of the service app to the customer 360° page and the home page."""

from __future__ import annotations


def tickets_panel(request, customer):
    return None


def figures(request, customer):
    return []


def home(request):
    return {}
