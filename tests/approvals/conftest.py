import pytest

from tests.salesmgmt.conftest import account, org, pipeline, stages  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def default_chains(db):
    """What migration 0002 creates (a transactional test's flush elsewhere in the run empties the table)."""
    from kehu.approvals.services import ensure_default_chains

    ensure_default_chains()
