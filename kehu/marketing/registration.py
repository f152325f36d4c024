"""Registers the marketing models with the platform registry (scope, fields, timeline)."""


def register_all() -> None:
    """Each area of the app adds its registrations here."""
