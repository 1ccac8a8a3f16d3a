"""Maglev table build time and consistency, ours against the VPP replica baseline.

Run: ``python bench/maglev_table_bench.py [--trials N]`` from the repository root.
Prints one line per measurement; ratios are computed from figures measured in
the same run. "Others moved" counts buckets that changed owner although their
owner was neither removed nor added, as a fraction of those buckets.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.maglev_table import (  # noqa: E402
    Backend,
    maglev_table,
    vpp_weighted_table,
)

TableBuilder = Callable[[Sequence[Backend], int], list[int]]


def random_backends(n: int, rng: random.Random, weighted: bool = False) -> list[Backend]:
    addresses: set[IPv4Address] = set()
    while len(addresses) < n:
        addresses.add(IPv4Address(rng.getrandbits(32)))
    return [Backend(a, rng.randint(1, 100) if weighted else 100) for a in sorted(addresses)]


def owners(builder: TableBuilder, backends: Sequence[Backend], size: int) -> list[object]:
    return [backends[i].address if i >= 0 else None for i in builder(backends, size)]


def removal_moves(
    builder: TableBuilder, n: int, size: int, trials: int, seed: int = 1
) -> tuple[float, float, float]:
    """Mean own buckets, mean and worst fraction of the others moved, over ``trials``."""
    rng = random.Random(seed)
    own_counts: list[int] = []
    fractions: list[float] = []
    for _ in range(trials):
        backends = random_backends(n, rng)
        gone = rng.randrange(n)
        before = owners(builder, backends, size)
        after = owners(builder, backends[:gone] + backends[gone + 1 :], size)
        own = sum(1 for a in before if a == backends[gone].address)
        moved = sum(1 for a, b in zip(before, after, strict=True) if a != b)
        own_counts.append(own)
        fractions.append((moved - own) / (size - own))
    return statistics.mean(own_counts), statistics.mean(fractions), max(fractions)


def addition_moves(
    builder: TableBuilder, n: int, size: int, trials: int, seed: int = 3
) -> tuple[float, float, float]:
    """One AS added to ``n``: mean buckets it takes, mean and worst fraction of the others moved.

    The mirror of :func:`removal_moves`: "others" are the buckets that the
    new AS did not take, which ideally keep their owner.
    """
    rng = random.Random(seed)
    own_counts: list[int] = []
    fractions: list[float] = []
    for _ in range(trials):
        backends = random_backends(n + 1, rng)
        added = rng.randrange(n + 1)
        before = owners(builder, backends[:added] + backends[added + 1 :], size)
        after = owners(builder, backends, size)
        own = sum(1 for a in after if a == backends[added].address)
        moved = sum(1 for a, b in zip(before, after, strict=True) if a != b)
        own_counts.append(own)
        fractions.append((moved - own) / (size - own))
    return statistics.mean(own_counts), statistics.mean(fractions), max(fractions)


def load_spread(builder: TableBuilder, n: int, size: int, trials: int, seed: int = 4) -> float:
    """Mean over ``trials`` of max/mean buckets per AS (equal weights; 1.0 is perfect)."""
    rng = random.Random(seed)
    spreads: list[float] = []
    for _ in range(trials):
        table = builder(random_backends(n, rng), size)
        counts = [0] * n
        for i in table:
            counts[i] += 1
        spreads.append(max(counts) / (size / n))
    return statistics.mean(spreads)


def weighted_change_moves(
    builder: TableBuilder, n: int, size: int, trials: int, seed: int = 2
) -> tuple[float, float]:
    """Weights 1-100, one AS re-weighted: mean and worst extra moves / table size.

    Extra moves are changes beyond those the new quotas force (buckets an AS
    loses because its count dropped).
    """
    rng = random.Random(seed)
    fractions: list[float] = []
    for _ in range(trials):
        backends = random_backends(n, rng, weighted=True)
        victim = rng.randrange(n)
        changed = list(backends)
        changed[victim] = Backend(backends[victim].address, rng.randint(1, 100))
        before = owners(builder, backends, size)
        after = owners(builder, changed, size)
        required = sum(max(0, before.count(b.address) - after.count(b.address)) for b in backends)
        moved = sum(1 for a, b in zip(before, after, strict=True) if a != b)
        fractions.append((moved - required) / size)
    return statistics.mean(fractions), max(fractions)


def build_time(
    builder: TableBuilder, n: int, size: int, weighted: bool, repeats: int = 3
) -> float:
    """Best of ``repeats`` wall times of one build, in seconds."""
    backends = random_backends(n, random.Random(7), weighted)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        builder(backends, size)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()

    for weighted in (False, True):
        label = "weights 1-100" if weighted else "equal weights"
        seconds = build_time(maglev_table, 1000, 65536, weighted)
        print(f"build new_len=65536 N=1000 {label}: {seconds:.3f} s (best of 3)")

    for n, size in ((10, 1024), (100, 16384)):
        trials = args.trials if n * size <= 10**5 else max(args.trials // 10, 3)
        results = {}
        for name, builder in (("ours", maglev_table), ("vpp-replicas", vpp_weighted_table)):
            own, mean, worst = removal_moves(builder, n, size, trials)
            results[name] = mean
            print(
                f"remove 1 of N={n} new_len={size} {name}: own buckets {own:.1f}, "
                f"others moved mean {mean:.2%} worst {worst:.2%} ({trials} trials)"
            )
        ratio = results["vpp-replicas"] / results["ours"]
        print(f"  others moved, vpp-replicas / ours: {ratio:.1f}x")

    for name, builder in (("ours", maglev_table), ("vpp-replicas", vpp_weighted_table)):
        mean, worst = weighted_change_moves(builder, 10, 1024, args.trials)
        print(
            f"re-weight 1 of N=10 new_len=1024 (weights 1-100) {name}: extra moves "
            f"mean {mean:.2%} worst {worst:.2%} of the table ({args.trials} trials)"
        )


if __name__ == "__main__":
    main()
