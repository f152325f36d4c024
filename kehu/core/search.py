"""Global search: apps register providers; the search box asks each and merges ranked results.

A provider is callable(*, user, q, limit) -> list[SearchResult]; it must start from a scoped selector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class SearchResult:
    kind: str
    title: str
    subtitle: str
    url: str
    rank: float = 0.0


PROVIDERS: list[Callable[..., list[SearchResult]]] = []


def register(provider: Callable[..., list[SearchResult]]) -> Callable:
    PROVIDERS.append(provider)
    return provider


def global_search(*, user, q: str, limit: int = 20) -> list[SearchResult]:
    q = (q or "").strip()[:100]
    if not q:
        return []
    results: list[SearchResult] = []
    for provider in PROVIDERS:
        results.extend(provider(user=user, q=q, limit=limit))
    results.sort(key=lambda r: -r.rank)
    return results[:limit]
