"""Properties of the Maglev table: balance, weights, consistency, determinism.

Consistency bounds, stated here and measured with bench/maglev_table_bench.py:
a change must move the buckets it has to (the removed AS's, or those an AS
loses to a smaller quota) and few others.

* one AS removed or added, equal weights, new_len >= 100 * N: at most 8 % of
  the other buckets move (worst seen in 1500 random cases: 3.7 %), and at
  most 2 % on average over 100 AS sets at N = 10, new_len 1024 (measured
  1.7 %; the 100-replica scheme VPP is described with moves about 12 %);
* weights 0-100, one AS removed or its weight changed: at most 10 % of the
  table moves beyond what has to (worst seen in 4000 cases biased to small
  weights and N: 6.2 %, N = 2 with weights 2, 1 -> 3, 1). Measured against
  the table rather than "the others", which can be a handful of buckets
  when the changed AS dominates.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections import Counter
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from controller.maglev_table import (
    NO_BACKEND,
    Backend,
    buckets_moved,
    maglev_table,
    vpp_weighted_table,
    weighted_quotas,
)

REPO = Path(__file__).resolve().parents[2]

EQUAL_WEIGHT_BOUND = 0.08
WEIGHTED_BOUND = 0.10
AVERAGE_BOUND_N10 = 0.02

ipv4s = st.integers(0, 2**32 - 1).map(IPv4Address)
ipv6s = st.integers(0, 2**128 - 1).map(IPv6Address)
sizes = st.integers(0, 12).map(lambda k: 2**k)
weights = st.integers(0, 100)


def address_sets(min_size: int, max_size: int) -> st.SearchStrategy[list]:
    return st.one_of(
        st.lists(ipv4s, min_size=min_size, max_size=max_size, unique=True),
        st.lists(ipv6s, min_size=min_size, max_size=max_size, unique=True),
    )


@st.composite
def weighted_backends(draw: st.DrawFn, min_size: int = 1, max_size: int = 30) -> list[Backend]:
    addresses = draw(address_sets(min_size, max_size))
    return [Backend(a, draw(weights)) for a in addresses]


def big_enough_size(n: int, factor: int) -> int:
    """Smallest power of two >= 100 * n, times ``factor``."""
    return 2 ** math.ceil(math.log2(100 * n)) * factor


def owners(backends: list[Backend], size: int) -> list[object]:
    """Table with addresses instead of positions, so tables of different inputs compare."""
    return [backends[i].address if i != NO_BACKEND else None for i in maglev_table(backends, size)]


def extra_moves(before: list[object], after: list[object]) -> tuple[int, int]:
    """Buckets that moved without having to, and buckets that had to move.

    A bucket has to move when its owner's count drops (the owner was removed
    or its quota shrank); every other change is disruption.
    """
    count_before, count_after = Counter(before), Counter(after)
    required = sum(max(0, n - count_after[a]) for a, n in count_before.items())
    moved = buckets_moved(before, after)
    assert moved >= required
    return moved - required, required


def moved_beyond_required(before: list[object], after: list[object]) -> float:
    """Fraction of the buckets that had no reason to move but did."""
    extra, required = extra_moves(before, after)
    return extra / (len(before) - required) if len(before) > required else 0.0


@given(weighted_backends(), sizes)
@settings(max_examples=200, deadline=None)
def test_every_as_gets_floor_or_ceil_of_its_weighted_share(backends, size):
    table = maglev_table(backends, size)
    counts = Counter(table)
    total = sum(b.weight for b in backends)
    if total == 0:
        assert table == [NO_BACKEND] * size
        return
    assert NO_BACKEND not in counts
    for i, b in enumerate(backends):
        share = size * b.weight / total
        assert math.floor(share) <= counts[i] <= math.ceil(share), (b, share, counts[i])


@given(weighted_backends(min_size=2), sizes)
@settings(deadline=None)
def test_weight_zero_gets_no_bucket(backends, size):
    backends[0] = Backend(backends[0].address, 0)
    assert 0 not in maglev_table(backends, size)


def test_all_weights_zero_or_no_backend_leaves_every_bucket_empty():
    assert maglev_table([], 8) == [NO_BACKEND] * 8
    zero = [Backend(ip_address("10.0.0.1"), 0), Backend(ip_address("10.0.0.2"), 0)]
    assert maglev_table(zero, 4) == [NO_BACKEND] * 4


@given(address_sets(1, 40), st.sampled_from([1, 2, 4]))
@settings(deadline=None)
def test_load_max_over_mean_at_most_1_01_when_table_is_100_times_the_servers(addresses, factor):
    size = big_enough_size(len(addresses), factor)
    counts = Counter(maglev_table([Backend(a) for a in addresses], size))
    mean = size / len(addresses)
    assert len(counts) == len(addresses)
    assert max(counts.values()) / mean <= 1.01


@given(address_sets(2, 40), st.data())
@settings(deadline=None)
def test_removing_one_as_moves_its_buckets_and_few_others(addresses, data):
    size = big_enough_size(len(addresses), data.draw(st.sampled_from([1, 2])))
    backends = [Backend(a) for a in addresses]
    gone = data.draw(st.integers(0, len(backends) - 1))
    before = owners(backends, size)
    after = owners(backends[:gone] + backends[gone + 1 :], size)
    # Every bucket of the removed AS moves; the rest mostly stays.
    assert backends[gone].address not in after
    assert moved_beyond_required(before, after) <= EQUAL_WEIGHT_BOUND


@given(address_sets(1, 39), ipv4s | ipv6s, st.data())
@settings(deadline=None)
def test_adding_one_as_takes_its_share_and_moves_few_others(addresses, new, data):
    assume(new not in addresses and all(new.version == a.version for a in addresses))
    size = big_enough_size(len(addresses) + 1, data.draw(st.sampled_from([1, 2])))
    backends = [Backend(a) for a in addresses]
    before = owners(backends, size)
    after = owners(backends + [Backend(new)], size)
    assert moved_beyond_required(before, after) <= EQUAL_WEIGHT_BOUND


@given(weighted_backends(min_size=2, max_size=30), st.data())
@settings(deadline=None)
def test_weighted_removal_and_weight_change_move_few_unrelated_buckets(backends, data):
    size = big_enough_size(len(backends), 1)
    victim = data.draw(st.integers(0, len(backends) - 1))
    removed = backends[:victim] + backends[victim + 1 :]
    reweighted = list(backends)
    reweighted[victim] = Backend(backends[victim].address, data.draw(weights))
    before = owners(backends, size)
    assume(any(b.weight for b in backends))
    for changed in (removed, reweighted):
        if any(b.weight for b in changed):
            extra, _ = extra_moves(before, owners(changed, size))
            assert extra <= WEIGHTED_BOUND * size


def random_ipv4_backends(n: int, rng: random.Random) -> list[Backend]:
    addresses: set[IPv4Address] = set()
    while len(addresses) < n:
        addresses.add(IPv4Address(rng.getrandbits(32)))
    return [Backend(a) for a in sorted(addresses)]


def average_others_moved(builder, n: int, size: int, trials: int) -> float:
    rng = random.Random(2016)
    fractions = []
    for _ in range(trials):
        backends = random_ipv4_backends(n, rng)
        gone = rng.randrange(n)
        rest = backends[:gone] + backends[gone + 1 :]
        before = [backends[i].address for i in builder(backends, size)]
        after = [rest[i].address for i in builder(rest, size)]
        fractions.append(moved_beyond_required(before, after))
    return sum(fractions) / len(fractions)


def test_removal_at_n10_moves_under_2_percent_of_others_and_far_less_than_replicas():
    ours = average_others_moved(maglev_table, 10, 1024, 100)
    replicas = average_others_moved(vpp_weighted_table, 10, 1024, 30)
    assert ours <= AVERAGE_BOUND_N10
    # The replica scheme is what DESIGN.md says VPP does (~13 %); ours must be
    # several times better, not merely different.
    assert replicas >= 4 * ours


@given(weighted_backends(max_size=20), sizes, st.randoms(use_true_random=False))
@settings(deadline=None)
def test_table_does_not_depend_on_the_order_ass_are_given(backends, size, rnd):
    shuffled = list(backends)
    rnd.shuffle(shuffled)
    assert owners(backends, size) == owners(shuffled, size)


GOLDEN_V4 = [
    ("10.0.0.1", 100),
    ("10.0.0.2", 50),
    ("10.0.0.3", 25),
]
GOLDEN_V4_TABLE = [0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 2, 0, 1, 0, 0, 0, 1, 0, 0, 2, 1, 0, 2, 0, 0, 2, 2, 0, 1, 0, 0]  # fmt: skip  # noqa: E501
GOLDEN_V6 = [("2001:db8::1", 100), ("2001:db8::2", 100)]
GOLDEN_V6_TABLE = [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1]


def test_golden_tables_are_reproduced_exactly():
    """Fixed values computed once: any change to hashing or filling breaks them.

    Several controllers and switches must compute identical tables, so a
    change here is a compatibility break, not a refactor.
    """
    v4 = [Backend(ip_address(a), w) for a, w in GOLDEN_V4]
    v6 = [Backend(ip_address(a), w) for a, w in GOLDEN_V6]
    assert maglev_table(v4, 32) == GOLDEN_V4_TABLE
    assert maglev_table(v6, 16) == GOLDEN_V6_TABLE


def test_table_is_identical_in_a_process_with_another_hash_seed():
    script = (
        "import json, sys\n"
        "from ipaddress import ip_address\n"
        "from controller.maglev_table import Backend, maglev_table\n"
        "spec = json.loads(sys.argv[1])\n"
        "print(json.dumps(maglev_table([Backend(ip_address(a), w) for a, w in spec], 256)))\n"
    )
    spec = [[f"192.0.2.{i}", (i * 37) % 101] for i in range(1, 20)]
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    here = maglev_table([Backend(ip_address(a), w) for a, w in spec], 256)
    assert json.loads(out) == here


def test_quotas_apportion_by_largest_remainder_with_ties_to_the_first():
    assert weighted_quotas([100, 50, 25], 32) == [18, 9, 5]
    assert weighted_quotas([1, 1, 1], 4) == [2, 1, 1]
    assert weighted_quotas([0, 0], 4) == [0, 0]


@pytest.mark.parametrize("size", [0, -4, 3, 1000, 2.0, True])
def test_size_that_is_not_a_power_of_two_is_refused_by_name(size):
    with pytest.raises(ValueError, match=f"table size {size!r} is not a positive power of two"):
        maglev_table([Backend(ip_address("10.0.0.1"))], size)


@pytest.mark.parametrize("weight", [-1, 101, 1.5])
def test_weight_outside_0_100_is_refused_naming_the_as(weight):
    with pytest.raises(ValueError, match=r"weight .* of 10\.0\.0\.1"):
        maglev_table([Backend(ip_address("10.0.0.1"), weight)], 8)


def test_address_listed_twice_is_refused():
    twice = [Backend(ip_address("10.0.0.1")), Backend(ip_address("10.0.0.1"), 5)]
    with pytest.raises(ValueError, match="10.0.0.1 is listed twice"):
        maglev_table(twice, 8)


def test_buckets_moved_counts_differences_and_refuses_different_sizes():
    assert buckets_moved([0, 1, 2, 3], [0, 2, 2, 1]) == 2
    with pytest.raises(ValueError, match="tables differ in size: 2 and 3"):
        buckets_moved([0, 1], [0, 1, 2])


def test_replica_baseline_still_honours_weights_roughly():
    backends = [Backend(ip_address("10.0.0.1"), 75), Backend(ip_address("10.0.0.2"), 25)]
    counts = Counter(vpp_weighted_table(backends, 1024))
    assert 700 <= counts[0] <= 840
    assert counts[0] + counts[1] == 1024
