"""Global search provider: tickets by number (scoped)."""
