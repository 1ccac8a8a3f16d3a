"""Stateful objects: counter arrays, meter arrays, register arrays (bm_sim counters.cpp,
meters.cpp, stateful.cpp).

Counters count packets and bytes, bytes being the packet's ingress length as
in BMv2. Meters are BMv2's token buckets: rates are given smallest first
({CIR, PIR} for v1model's two-rate three-color meters), a packet that finds
too few tokens in the PIR bucket is red (2), in the CIR bucket yellow (1),
otherwise green (0); an unconfigured meter marks everything green.
"""

from __future__ import annotations

import time

from p4switch.runtime_api import MatchError, MeterRate, RuntimeApiError

from .layout import at, load_error


class CounterArray:
    def __init__(self, name: str, size: int, binding: str | None = None) -> None:
        self.name = name
        self.size = size
        self.binding = binding  # the table of a direct counter
        self.packets = [0] * size
        self.bytes = [0] * size

    def check_index(self, index: int) -> None:
        if not isinstance(index, int) or not 0 <= index < self.size:
            raise RuntimeApiError(
                MatchError.INVALID_INDEX,
                f"counter {self.name!r} index {index!r} not in [0, {self.size})",
            )

    def reset(self) -> None:
        self.packets = [0] * self.size
        self.bytes = [0] * self.size


class Meter:
    """One meter instance (BMv2 ``Meter``): token buckets checked highest rate first."""

    __slots__ = ("by_packets", "rates", "buckets", "configured", "t0")

    def __init__(self, by_packets: bool) -> None:
        self.by_packets = by_packets
        self.rates: list[MeterRate] = []
        # per bucket, checked in order: [info_rate, burst, tokens, tokens_last, color]
        self.buckets: list[list] = []
        self.configured = False
        self.t0 = time.monotonic()

    def set_rates(self, rates: list[MeterRate]) -> None:
        for r in rates:
            if not isinstance(r, MeterRate) or r.info_rate < 0 or r.burst_size < 0:
                raise RuntimeApiError(MatchError.INVALID_METER_OPERATION, f"bad meter rate {r!r}")
        for lo, hi in zip(rates, rates[1:], strict=False):
            if lo.info_rate > hi.info_rate:
                raise RuntimeApiError(
                    MatchError.INVALID_METER_OPERATION,
                    "meter rates must be given smallest first (CIR before PIR)",
                )
        self.rates = list(rates)
        self.buckets = [
            [r.info_rate, int(r.burst_size), int(r.burst_size), 0, i + 1]
            for i, r in enumerate(rates)
        ]
        self.buckets.reverse()
        self.t0 = time.monotonic()
        self.configured = True

    def reset(self) -> None:
        self.rates = []
        self.buckets = []
        self.configured = False

    def execute(self, length: int) -> int:
        if not self.configured:
            return 0
        micros = int((time.monotonic() - self.t0) * 1_000_000)
        need = 1 if self.by_packets else length
        color = 0
        for b in self.buckets:
            since_init = int(micros * b[0])
            b[2] = min(b[2] + since_init - b[3], b[1])
            b[3] = since_init
            if b[2] < need:
                color = b[4]
                break
            b[2] -= need
        return color


class MeterArray:
    def __init__(
        self,
        name: str,
        size: int,
        by_packets: bool,
        rate_count: int,
        binding: str | None = None,
        result_target: list | None = None,
    ) -> None:
        self.name = name
        self.result_target = result_target  # direct meters: [header, field] of the color
        self.size = size
        self.rate_count = rate_count
        self.binding = binding
        self.by_packets = by_packets
        # a direct meter lives in each table entry instead (tables.py)
        self.meters = [] if binding is not None else [Meter(by_packets) for _ in range(size)]

    def check_index(self, index: int) -> None:
        if not isinstance(index, int) or not 0 <= index < self.size:
            raise RuntimeApiError(
                MatchError.INVALID_INDEX,
                f"meter {self.name!r} index {index!r} not in [0, {self.size})",
            )

    def check_rates(self, rates: list[MeterRate]) -> None:
        if not isinstance(rates, list | tuple):
            raise RuntimeApiError(MatchError.INVALID_METER_OPERATION, f"bad rates {rates!r}")
        if len(rates) != self.rate_count:
            raise RuntimeApiError(
                MatchError.INVALID_METER_OPERATION,
                f"meter {self.name!r} takes {self.rate_count} rates, got {len(rates)}",
            )

    def execute(self, index: int, length: int) -> int:
        if 0 <= index < self.size:
            return self.meters[index].execute(length)
        return 0


class RegisterArray:
    def __init__(self, name: str, size: int, width: int) -> None:
        self.name = name
        self.size = size
        self.width = width
        self.mask = (1 << width) - 1
        self.values = [0] * size

    def check_index(self, index: int) -> None:
        if not isinstance(index, int) or not 0 <= index < self.size:
            raise RuntimeApiError(
                MatchError.INVALID_INDEX,
                f"register {self.name!r} index {index!r} not in [0, {self.size})",
            )


MAX_ARRAY_SIZE = 1 << 24  # instances per counter/meter/register array


def _valid_size(size: object) -> bool:
    return isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_ARRAY_SIZE


class Externs:
    """All counter, meter and register arrays of a program, by name."""

    def __init__(self, j: dict) -> None:
        self.counters: dict[str, CounterArray] = {}
        self.meters: dict[str, MeterArray] = {}
        self.registers: dict[str, RegisterArray] = {}
        for c in j.get("counter_arrays") or []:
            name = at(f"counter_array {c.get('name')!r}") and c.get("name")
            direct = bool(c.get("is_direct"))
            size = c.get("size", 0)
            if not isinstance(name, str) or (not direct and not _valid_size(size)):
                raise load_error(f"counter_array {name!r}", "lacks a name or a size in [0, 2**24]")
            self.counters[name] = CounterArray(
                name, size if isinstance(size, int) else 0, c.get("binding") if direct else None
            )
        for m in j.get("meter_arrays") or []:
            name = at(f"meter_array {m.get('name')!r}") and m.get("name")
            if not isinstance(name, str) or not _valid_size(m.get("size", 0)):
                raise load_error(f"meter_array {name!r}", "lacks a name or a size in [0, 2**24]")
            kind = m.get("type", "bytes")
            if kind not in ("bytes", "packets"):
                raise load_error(f"meter_array {name!r}", f"unknown type {kind!r}")
            self.meters[name] = MeterArray(
                name,
                m.get("size", 0),
                kind == "packets",
                int(m.get("rate_count", 2)),
                m.get("binding") if m.get("is_direct") else None,
                m.get("result_target"),
            )
        for r in j.get("register_arrays") or []:
            name = at(f"register_array {r.get('name')!r}") and r.get("name")
            if not isinstance(name, str) or not _valid_size(r.get("size")):
                raise load_error(f"register_array {name!r}", "lacks a name or a size in [0, 2**24]")
            width = r.get("bitwidth")
            if not isinstance(width, int) or not 0 < width <= 1 << 16:
                raise load_error(f"register_array {name!r}", f"bad bitwidth {width!r}")
            self.registers[name] = RegisterArray(name, r["size"], width)

    def counter(self, name: object, where: str) -> CounterArray:
        c = self.counters.get(name)  # type: ignore[arg-type]
        if c is None:
            raise load_error(where, f"unknown counter array {name!r}")
        return c

    def meter(self, name: object, where: str) -> MeterArray:
        m = self.meters.get(name)  # type: ignore[arg-type]
        if m is None:
            raise load_error(where, f"unknown meter array {name!r}")
        return m

    def register(self, name: object, where: str) -> RegisterArray:
        r = self.registers.get(name)  # type: ignore[arg-type]
        if r is None:
            raise load_error(where, f"unknown register array {name!r}")
        return r
