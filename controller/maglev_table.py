"""Maglev lookup tables (Eisenbud et al., NSDI 2016) with weights that keep consistency.

A VIP's new-flow table has ``size`` buckets (``new_len``, a power of two, as in
VPP). Each bucket names the application server (AS) that a new flow hashing to
it goes to. :func:`maglev_table` fills the table from the VIP's live ASs and
nothing else: the result depends only on each AS's address and weight, never
on the order the ASs were configured in, so every controller and every switch
computes the same table.

How the table is filled
-----------------------
Every AS owns a permutation of the buckets, keyed by a stable hash of its
address bytes (BLAKE2b, not Python's per-process ``hash()``): Maglev's
``offset + j * skip`` walk (skip odd, so it covers a power-of-two table),
scrambled by a bijection (see :class:`_Permutation`). Every AS walks its
permutation and claims a bucket it reaches while the bucket is free (Maglev's
rule: the first to want a bucket gets it), with three refinements:

* Quota: AS ``i`` claims exactly ``floor`` or ``ceil`` of its weighted share
  ``size * w_i / sum(w)``, apportioned by largest remainder (ties go to the
  lower address). Weight 0 gets nothing. Once an AS has its quota it stops.
* Weighted clock: AS ``i`` makes its ``j``-th probe at time
  ``-ln(1 - (j + 1/2) / size) / w_i`` (ties by address). This is weighted
  rendezvous hashing's exponential clock: the AS that reaches a bucket first
  is AS ``i`` with probability ``w_i / sum(w)``, so the quotas rarely have to
  step in, and a change to one AS's weight mostly moves buckets to or from
  that AS alone. The times depend only on the AS's own weight, so removing or
  adding one AS leaves the order of every other AS's probes unchanged. They
  are computed in integer arithmetic (:func:`_probe_clock`), never with the
  platform's ``log``, so every machine orders probes identically.
* Lockstep: a probe that finds its bucket taken is spent; the AS does not keep
  walking within the same turn as in the paper's loop. Who owns a bucket then
  depends mostly on how early each AS reaches it rather than on the history
  of who filled what before, so a change disturbs fewer unrelated buckets
  (in our trials about half as many as the paper's loop).

With equal weights this is Maglev in lockstep, round-robin in address order.

``python bench/maglev_table_bench.py`` measures build time and the buckets
moved by one removal against the replica baseline below; its figures are in
the report of issue 4 and in tests/controller/test_maglev_table.py.

The comparison baseline
-----------------------
:func:`vpp_weighted_table` is the weighting scheme DESIGN.md attributes to VPP
(an AS of weight ``w`` enters Maglev as ``w`` replicas, each with its own
permutation). It is here only so benchmarks and tests can measure what our
scheme saves; the controller never uses it.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address

NO_BACKEND = -1
"""Bucket value when the table has no backend with a positive weight."""

MAX_WEIGHT = 100

_HASH_PERSON = b"p4lb-maglev"


@dataclass(frozen=True)
class Backend:
    """One AS as the table sees it: its identity (address) and its weight."""

    address: IPv4Address | IPv6Address
    weight: int = MAX_WEIGHT


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0 or size & (size - 1):
        raise ValueError(f"table size {size!r} is not a positive power of two")


def _address_key(address: IPv4Address | IPv6Address) -> tuple[int, bytes]:
    return (address.version, address.packed)


class _Permutation:
    """The order in which one AS visits the buckets: a keyed bijection of 0..size-1.

    A plain Maglev permutation ``offset + j * skip`` is linear; in a
    power-of-two table two ASs whose skips collide (likely once N * N / size
    is not small) walk the same cycle one behind the other and fight for the
    same buckets, so a change to one disturbs the other heavily (measured: up
    to 19 % of unrelated buckets moved at N = 4). Two rounds of xorshift and
    odd multiply on top of the linear walk make pairs of ASs behave like
    independent random permutations (the share one AS wins against another
    stays within the spread of truly random ones), and every step is
    invertible modulo ``size``, so it is still a permutation.
    """

    __slots__ = ("next_linear", "skip", "multiplier1", "multiplier2")

    def __init__(self, identity: bytes, size: int) -> None:
        digest = hashlib.blake2b(identity, digest_size=32, person=_HASH_PERSON).digest()
        h1, h2, h3, h4 = (int.from_bytes(digest[i : i + 8], "little") for i in (0, 8, 16, 24))
        self.next_linear = h1 % size
        self.skip = (h2 % (size // 2)) * 2 + 1 if size > 1 else 1
        self.multiplier1 = (h3 | 1) % size if size > 1 else 0
        self.multiplier2 = (h4 | 1) % size if size > 1 else 0


_CLOCK_BITS = 64
_CLOCK_ONE = 1 << _CLOCK_BITS
# Probe times are compared as clock(j) / w for w in 1..100; scaling every time
# by lcm(1..100) keeps them exact integers.
_WEIGHT_LCM = math.lcm(*range(1, MAX_WEIGHT + 1))


def _atanh_reciprocal(d: int) -> int:
    """atanh(1/d) in fixed point (2**64), by its series; exact integer steps."""
    term = _CLOCK_ONE // d
    total = term
    d2 = d * d
    k = 1
    while term:
        term //= d2
        total += term // (2 * k + 1)
        k += 1
    return total


@lru_cache(maxsize=32)
def _probe_clock(size: int) -> tuple[int, ...]:
    """``-ln(1 - (j + 1/2) / size)`` for j < size, in fixed point (2**64).

    That is ``ln(2 size) - ln(2 size - 2j - 1)``; the logarithms of odd
    numbers come from ``ln(n + 2) = ln(n) + 2 atanh(1 / (n + 1))``. Integer
    arithmetic only, so the result is the same on every machine (a libm
    ``log`` may differ in its last bit, enough to reorder two probes).
    """
    two_size = 2 * size
    log_odd = [0] * size  # log_odd[i] = ln(2i + 1)
    for i in range(1, size):
        log_odd[i] = log_odd[i - 1] + 2 * _atanh_reciprocal(2 * i)
    log_two_size = log_odd[size - 1] + 2 * _atanh_reciprocal(2 * two_size - 1)
    return tuple(log_two_size - log_odd[(two_size - 2 * j - 1) // 2] for j in range(size))


def _sorted_positions(backends: Sequence[Backend]) -> list[int]:
    """Input positions sorted by address; rejects bad weights and duplicates."""
    for b in backends:
        if isinstance(b.weight, bool) or not isinstance(b.weight, int):
            raise ValueError(f"weight {b.weight!r} of {b.address} is not an integer")
        if not 0 <= b.weight <= MAX_WEIGHT:
            raise ValueError(f"weight {b.weight} of {b.address} is outside 0-{MAX_WEIGHT}")
    order = sorted(range(len(backends)), key=lambda i: _address_key(backends[i].address))
    for a, b in zip(order, order[1:], strict=False):
        if backends[a].address == backends[b].address:
            raise ValueError(f"backend {backends[a].address} is listed twice")
    return order


def weighted_quotas(weights: Sequence[int], size: int) -> list[int]:
    """Buckets per backend: floor or ceil of ``size * w / sum(w)``, summing to ``size``.

    Largest-remainder apportionment; equal remainders go to the earlier
    position (callers pass backends sorted by address). All-zero weights give
    all-zero quotas.
    """
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    quotas = [size * w // total for w in weights]
    short = size - sum(quotas)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(size * weights[i] % total), i))
    for i in by_remainder[:short]:
        quotas[i] += 1
    return quotas


def maglev_table(backends: Sequence[Backend], size: int) -> list[int]:
    """Fill a table of ``size`` buckets; each bucket is a position in ``backends``.

    Buckets are :data:`NO_BACKEND` when no backend has a positive weight.
    Raises ``ValueError`` for a size that is not a power of two, a weight
    outside 0-100 or an address listed twice.
    """
    _check_size(size)
    order = _sorted_positions(backends)
    weights = [backends[i].weight for i in order]
    left = weighted_quotas(weights, size)
    if not any(left):
        return [NO_BACKEND] * size

    mask = size - 1
    shift = max(1, size.bit_length() // 2)
    perms = [_Permutation(backends[i].address.packed, size) for i in order]
    linear = [p.next_linear for p in perms]
    skips = [p.skip for p in perms]
    multipliers1 = [p.multiplier1 for p in perms]
    multipliers2 = [p.multiplier2 for p in perms]
    clock = _probe_clock(size)

    # ASs of equal weight probe at the same times, so they move as a group:
    # one heap entry per weight, (time of the group's next probe, weight, j).
    # Within a group, and between groups whose times are equal, the lower
    # address (rank r) goes first.
    groups: dict[int, list[int]] = {}
    for r, w in enumerate(weights):
        if left[r]:
            groups.setdefault(w, []).append(r)
    heap = [(clock[0] * (_WEIGHT_LCM // w), w, 0) for w in groups]
    heapq.heapify(heap)
    # `owner` holds sorted ranks during the fill (-1 = free); mapped back below.
    owner = [-1] * size
    while heap:
        time, w, j = heapq.heappop(heap)
        due = [(w, j)]
        while heap and heap[0][0] == time:
            _, w2, j2 = heapq.heappop(heap)
            due.append((w2, j2))
        members = groups[w] if len(due) == 1 else sorted(r for g, _ in due for r in groups[g])
        for r in members:
            lin = linear[r]
            linear[r] = (lin + skips[r]) & mask
            pos = ((lin ^ (lin >> shift)) * multipliers1[r]) & mask
            pos = ((pos ^ (pos >> shift)) * multipliers2[r]) & mask
            if owner[pos] < 0:
                owner[pos] = r
                left[r] -= 1
        for g, jg in due:
            # An AS with quota left has free buckets ahead in its walk, so
            # jg + 1 < size whenever the group goes on.
            still = [r for r in groups[g] if left[r]]
            groups[g] = still
            if still:
                heapq.heappush(heap, (clock[jg + 1] * (_WEIGHT_LCM // g), g, jg + 1))
    return [order[r] for r in owner]


def buckets_moved(old: Sequence[int | object], new: Sequence[int | object]) -> int:
    """Number of buckets whose owner differs between two tables of the same size."""
    if len(old) != len(new):
        raise ValueError(f"tables differ in size: {len(old)} and {len(new)}")
    return sum(1 for a, b in zip(old, new, strict=True) if a != b)


def vpp_weighted_table(backends: Sequence[Backend], size: int) -> list[int]:
    """COMPARISON BASELINE ONLY: weights as replicas, as DESIGN.md describes VPP's.

    An AS of weight ``w`` enters an unweighted Maglev as ``w`` replicas, replica
    ``j`` hashing ``address bytes + j``; replicas take plain round-robin turns
    in (address, replica) order. Every bucket is a position in ``backends``.
    With 100 replicas per AS the table has about as many replicas as buckets,
    the regime where Maglev's disruption is worst: that is the cost measured
    against :func:`maglev_table`.
    """
    _check_size(size)
    order = _sorted_positions(backends)
    replicas = [(i, j) for i in order for j in range(backends[i].weight)]
    if not replicas:
        return [NO_BACKEND] * size
    mask = size - 1
    next_pos: list[int] = []
    skips: list[int] = []
    for i, j in replicas:
        perm = _Permutation(backends[i].address.packed + j.to_bytes(1, "big"), size)
        next_pos.append(perm.next_linear)
        skips.append(perm.skip)
    owner = [-1] * size
    filled = 0
    while filled < size:
        for r in range(len(replicas)):
            pos = next_pos[r]
            skip = skips[r]
            while owner[pos] >= 0:
                pos = (pos + skip) & mask
            owner[pos] = r
            next_pos[r] = (pos + skip) & mask
            filled += 1
            if filled == size:
                break
    return [replicas[r][0] for r in owner]
