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
permutation, and a bucket goes to the AS whose walk reaches it first
(Maglev's rule). Three refinements:

* Quota: AS ``i`` claims exactly ``floor`` or ``ceil`` of its weighted share
  ``size * w_i / sum(w)``, apportioned by largest remainder (ties go to the
  lower address). Weight 0 gets nothing. Once an AS has its quota it stops.
* Weighted clock: AS ``i`` makes its ``j``-th probe at virtual time
  ``(j + 1/2) / w_i`` (ties by address). The times depend only on the AS's
  own weight, so removing or adding one AS leaves the relative order of every
  other AS's probes unchanged.
* Lockstep: a probe that finds its bucket taken is spent; the AS does not keep
  walking within the same turn as in the paper's loop. Who owns a bucket then
  depends mostly on how early each AS's permutation reaches it rather than on
  the history of who filled what before, so a removal disturbs fewer
  unrelated buckets (in our trials about half as many as the paper's loop).

``python bench/maglev_table_bench.py`` measures build time and the buckets
moved by one removal against the replica baseline below. Figures from one run
on the development machine: size 65536 with 1000 ASs builds in 0.2 s; at
N = 10, size 1024, a removal moves the removed AS's ~102 buckets plus 1.7 %
of the others on average (3.0 % at worst over 200 AS sets), against 12.3 %
for 100 replicas per AS.

The comparison baseline
-----------------------
:func:`vpp_weighted_table` is the weighting scheme DESIGN.md attributes to VPP
(an AS of weight ``w`` enters Maglev as ``w`` replicas, each with its own
permutation). It is here only so benchmarks and tests can measure what our
scheme saves; the controller never uses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
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
    power-of-two table two ASs that draw the same skip (likely once
    N * N / size is not small) walk the same cycle one behind the other and
    fight for the same buckets, so a change to one of them disturbs the other
    heavily (measured: up to 19 % of unrelated buckets moved at N = 4). One
    xorshift and one odd multiply on top of the linear walk break that
    correlation (worst case measured 6 %) and keep it a bijection: each step
    is invertible modulo ``size``.
    """

    __slots__ = ("next_linear", "skip", "multiplier")

    def __init__(self, identity: bytes, size: int) -> None:
        digest = hashlib.blake2b(identity, digest_size=24, person=_HASH_PERSON).digest()
        h1, h2, h3 = (int.from_bytes(digest[i : i + 8], "little") for i in (0, 8, 16))
        self.next_linear = h1 % size
        self.skip = (h2 % (size // 2)) * 2 + 1 if size > 1 else 1
        self.multiplier = (h3 | 1) % size if size > 1 else 0


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
    shift = max(1, (size.bit_length()) // 2)
    perms = [_Permutation(backends[i].address.packed, size) for i in order]
    linear = [p.next_linear for p in perms]
    skips = [p.skip for p in perms]
    multipliers = [p.multiplier for p in perms]

    # Probe j of sorted backend r happens at time (j + 1/2) / w_r. Within every
    # unit of time each backend probes w_r times in the same interleaving, so
    # one unit's order (`pattern`) is computed once and replayed. Float division
    # of small integers is correctly rounded: equal rationals compare equal on
    # every machine, and the rank r breaks the tie.
    pattern = [
        r
        for _, r in sorted(
            ((2 * m + 1) / (2 * w), r) for r, w in enumerate(weights) if left[r] for m in range(w)
        )
    ]
    # `owner` holds sorted ranks during the fill (-1 = free); mapped back below.
    owner = [-1] * size
    free = size
    while free:
        for r in pattern:
            if not left[r]:
                continue
            lin = linear[r]
            linear[r] = (lin + skips[r]) & mask
            pos = ((lin ^ (lin >> shift)) * multipliers[r]) & mask
            if owner[pos] < 0:
                owner[pos] = r
                left[r] -= 1
                free -= 1
        # Backends that reached their quota stop probing; drop them so late
        # rounds do not walk over them.
        pattern = [r for r in pattern if left[r]]
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
