"""`make test-clock` deals the suite over the moved clocks: every test runs at exactly one of them."""

import pytest

from tests.conftest import _parse_shard, in_shard

IDS = [f"tests/app/test_{m}.py::test_{t}[{p}]" for m in range(40) for t in range(10) for p in ("a", "b")]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_every_test_is_in_exactly_one_shard(n):
    for nodeid in IDS:
        assert sum(in_shard(nodeid, k, n) for k in range(n)) == 1
    sizes = [sum(in_shard(nodeid, k, n) for nodeid in IDS) for k in range(n)]
    assert min(sizes) > len(IDS) / n * 0.8  # dealt evenly enough that no clock runs most of the suite


def test_the_deal_is_stable_across_runs_and_machines():
    # crc32, not hash(): Python salts str hashes per process, which would deal the tests anew on every run
    # (the expected shards are crc32's, fixed forever)
    assert in_shard("tests/core/test_access.py::test_owner_sees_own", 0, 3)
    assert in_shard("tests/core/test_access.py::test_owner_sees_own", 3, 4)
    assert in_shard("tests/a.py::test_b", 2, 3)
    assert in_shard("tests/a.py::test_b", 1, 4)


@pytest.mark.parametrize("bad", ["3/3", "-1/3", "1", "a/b", "1/0", ""])
def test_a_malformed_shard_stops_the_run_with_the_reason(bad):
    with pytest.raises(pytest.UsageError, match="--clock-shard"):
        _parse_shard(bad)


def test_a_good_shard_is_parsed():
    assert _parse_shard("2/3") == (2, 3)
