"""Suite-wide fixtures. Browser fixtures live in tests/e2e/conftest.py."""

from __future__ import annotations

import os
import zlib

import pytest
import time_machine
from hypothesis import settings as hypothesis_settings

from kehu.core.models import Scope

from . import clock as suite_clock
from .factories import UserFactory, user_with

# Property tests draw the same examples on every run (a failure in CI reproduces on a laptop, and no run fails
# by the luck of the draw) and never time an example (the machine's load is not the code's fault). To explore
# new examples locally: `pytest --hypothesis-profile=default` (docs/testing.md).
hypothesis_settings.register_profile("kehu", derandomize=True, deadline=None)
hypothesis_settings.load_profile("kehu")

ALL_ACTIONS = ("view", "add", "change", "delete", "import", "export", "transfer")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def make_user(db):
    """make_user("customers.customer", actions=(...), read=Scope.OWN, write=Scope.OWN, **user fields)"""

    def make(model="customers.customer", actions=ALL_ACTIONS, read=Scope.OWN, write=Scope.OWN, **kwargs):
        return user_with(model, actions, read, write, **kwargs)

    return make


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_for():
    from rest_framework.test import APIClient

    def make(user):
        api = APIClient()
        api.force_authenticate(user)
        return api

    return make


# The audit trail's append-only guard is on in the test databases as in every real one. Transactional tests end
# with Django's flush, which suspends the guard for the flush only (kehu/core/management/commands/flush.py).


@pytest.fixture(autouse=True)
def _reset_language():
    """Requests activate the user's language for the thread (as in production, where every request sets its
    own); the test client shares the thread, so put the default back after each test."""
    yield
    from django.utils import translation

    translation.deactivate()


def pytest_addoption(parser):
    parser.addoption(
        "--now",
        default=None,
        help="start every test at this instant (ISO 8601 with offset); default: tests/clock.py DEFAULT_NOW or "
        "the KEHU_TEST_NOW environment variable",
    )
    parser.addoption(
        "--clock-shard",
        default=None,
        metavar="K/N",
        help="with --now: run only the K-th of N shards of the suite (tests dealt by a stable hash of their id); "
        "`make test-clock` gives each moved clock its own shard",
    )


def pytest_configure(config):
    moved = config.getoption("--now", default=None)
    if moved:
        suite_clock.parse(moved)  # a malformed value stops the run at once, not in every test
        os.environ[suite_clock.ENV] = moved  # xdist workers inherit it
    shard = config.getoption("--clock-shard", default=None)
    if shard is not None:
        config._clock_shard = _parse_shard(shard)


def _parse_shard(value: str) -> tuple[int, int]:
    """`K/N` with 0 <= K < N; anything else stops the run with the reason."""
    try:
        k, n = (int(part) for part in value.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--clock-shard expects K/N (e.g. 0/3), not {value!r}") from None
    if not 0 <= k < n:
        raise pytest.UsageError(f"--clock-shard {value!r}: K must be at least 0 and below N")
    return k, n


def in_shard(nodeid: str, k: int, n: int) -> bool:
    """A test belongs to one shard of N, by a hash of its id that is the same on every machine and run."""
    return zlib.crc32(nodeid.encode()) % n == k


def pytest_collection_modifyitems(config, items):
    """With the clock moved (`--now`, `make test-clock`), leave out the tests marked `clock_independent`: sweeps
    whose verdict cannot change with the date (the field-marker sweep only looks for leaked values and ignores
    pages that fail) and that would cost minutes per moved clock. The default run keeps them. With
    `--clock-shard K/N` only the K-th shard of the rest runs (each moved clock of `make test-clock` takes one)."""
    if not config.getoption("--now", default=None):
        return
    shard = getattr(config, "_clock_shard", None)
    kept, left = [], []
    for item in items:
        outside = shard is not None and not in_shard(item.nodeid, *shard)
        (left if outside or item.get_closest_marker("clock_independent") else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_report_header(config):
    return f"frozen clock: every test starts at {suite_clock.frozen_now().isoformat()} ({suite_clock.ENV})"


@pytest.fixture(autouse=True)
def frozen_clock():
    """Every test runs on the suite's frozen clock (tests/clock.py); `frozen_clock.move_to(...)` and
    `frozen_clock.shift(...)` move it within a test."""
    with time_machine.travel(suite_clock.frozen_now(), tick=True) as traveller:
        yield traveller


@pytest.fixture
def now(frozen_clock):
    """The instant the test started at (aware)."""
    return suite_clock.frozen_now()
