"""Health checks of the ASs through the data path: probes out, answers in, up or down.

Every AS of a VIP with a health check (lb_model, ``lb health-check``) is a
:class:`ProbeTarget`. Each interval the checker sends it one TCP SYN from
the LB's health-check source to the VIP address and port, as P4Runtime
PacketOut naming the AS (``send``), so the switch carries it through that
AS's encap exactly as a client's packet; the AS's answer comes back to the
source address, which the switch sends to the CPU (PacketIn,
:meth:`HealthChecker.packet_in`). A SYN-ACK that acknowledges the probe is a
success (a RST then closes the half-open connection); a RST, or nothing
within ``timeout``, a failure.

``fall`` failures in a row take an up AS down, ``rise`` successes in a row
bring a down one back. Damping: an AS that went down k times within the
check's ``flap_window`` needs rise x 2^(k-1) successes (at most 8 x rise)
before it is up again. Every change is logged, kept in :attr:`events`, and
handed to ``on_change`` (the service then rewrites the AS's buckets).

One thread does everything but receiving: it sends due probes, matches the
answers queued by packet_in, expires the probes that timed out and applies
the results, so no lock is held while ``on_change`` runs. :meth:`step`
(one pass, at a given time) is what the thread calls in a loop.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.health_probe import TCP_ACK, TCP_RST, TCP_SYN, IPAddress, Segment, build_frame
from controller.health_probe import parse_frame as parse_segment
from controller.lb_values import HealthCheck, format_ms

log = logging.getLogger(__name__)

TargetKey = tuple[int, int]  # (vip_id, as_id)
FIRST_PORT, LAST_PORT = 40000, 59999  # source ports of probes, one per probe in flight
MAX_DAMPING = 8
EVENTS_KEPT = 100
MAX_SLEEP_S = 0.5


@dataclass(frozen=True)
class ProbeTarget:
    """One AS of a checked VIP, and where its probes go."""

    vip_id: int
    as_id: int
    vip: str  # the VIP key as the CLI writes it
    vip_labels: tuple[str, str | None, int]  # prefix, protocol, port
    as_address: IPAddress
    source: IPAddress
    address: IPAddress
    port: int
    check: HealthCheck

    @property
    def key(self) -> TargetKey:
        return (self.vip_id, self.as_id)


@dataclass(frozen=True)
class Transition:
    """An AS that went up or down."""

    target: ProbeTarget
    up: bool
    reason: str
    at: float  # wall clock


@dataclass
class _Health:
    """What the checker knows about one target."""

    up: bool = True
    since: float = field(default_factory=time.time)
    reason: str = "not checked yet"
    successes: int = 0
    failures: int = 0
    rise_needed: int = 0
    downs: collections.deque[float] = field(default_factory=collections.deque)
    probes: collections.Counter[str] = field(default_factory=collections.Counter)
    transitions: int = 0
    next_probe: float = 0.0
    in_flight: int | None = None  # source port of the probe awaiting an answer


@dataclass(frozen=True)
class _Probe:
    key: TargetKey
    seq: int
    deadline: float


class HealthChecker:
    """Probes targets; thread-safe (packet_in arrives on the switches' stream threads)."""

    def __init__(
        self,
        send: Callable[[bytes, int], bool],
        on_change: Callable[[list[Transition]], None],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._send = send  # (frame, as_id) -> False when no switch could take it
        self._on_change = on_change
        self._clock = clock
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._targets: dict[TargetKey, ProbeTarget] = {}
        self._health: dict[TargetKey, _Health] = {}
        self._in_flight: dict[int, _Probe] = {}
        self._due: list[tuple[float, TargetKey]] = []  # heap of (next probe, target)
        self._deadlines: list[tuple[float, int]] = []  # heap of (deadline, source port)
        self._answers: collections.deque[Segment] = collections.deque()
        self._ports = itertools.cycle(range(FIRST_PORT, LAST_PORT + 1))
        self.events: collections.deque[Transition] = collections.deque(maxlen=EVENTS_KEPT)
        self.stray_answers = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifetime ------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="health-checker", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the checker must outlive one bad pass
                log.exception("health check pass failed")
            with self._lock:
                times = [h[0][0] for h in (self._due, self._deadlines) if h]
            sleep = min([*times, self._clock() + MAX_SLEEP_S]) - self._clock()
            if sleep > 0:
                self._wake.wait(sleep)
            self._wake.clear()

    # --- configuration ---------------------------------------------------------------

    def configure(self, targets: Iterable[ProbeTarget]) -> None:
        """The targets from now on; a kept target keeps its state, a new one starts up."""
        now = self._clock()
        with self._lock:
            wanted = {t.key: t for t in targets}
            for key in set(self._health) - set(wanted):
                del self._health[key]
            for key, target in wanted.items():
                health = self._health.get(key)
                if health is None:
                    health = self._health[key] = _Health(since=self._wall(), next_probe=now)
                    health.rise_needed = target.check.rise
                    heapq.heappush(self._due, (now, key))
                elif self._targets[key].check != target.check:
                    health.rise_needed = max(health.rise_needed, target.check.rise)
                    sooner = now + target.check.interval_ms / 1000
                    if sooner < health.next_probe:
                        health.next_probe = sooner
                        heapq.heappush(self._due, (sooner, key))
            self._targets = wanted
        self._wake.set()

    def is_up(self, vip_id: int, as_id: int) -> bool:
        """Up, or not checked at all."""
        with self._lock:
            health = self._health.get((vip_id, as_id))
            return health is None or health.up

    # --- answers ---------------------------------------------------------------------

    def packet_in(self, frame: bytes) -> None:
        """A frame the switch sent to the CPU; matched on the checker's thread."""
        segment = parse_segment(frame)
        if segment is None:
            self.stray_answers += 1
            return
        with self._lock:
            self._answers.append(segment)
        self._wake.set()

    # --- one pass --------------------------------------------------------------------

    def step(self, now: float | None = None) -> list[Transition]:
        """Matches answers, expires probes, sends due ones; reports what changed."""
        now = self._clock() if now is None else now
        results: list[tuple[TargetKey, str]] = []
        closing: list[tuple[Segment, int]] = []
        with self._lock:
            while self._answers:
                seg = self._answers.popleft()
                probe = self._in_flight.get(seg.dst_port)
                target = self._targets.get(probe.key) if probe else None
                result = _answer_kind(seg, probe.seq) if probe else None
                if probe is None or target is None or seg.dst != target.source \
                        or result is None:
                    self.stray_answers += 1
                    continue
                self._finish(seg.dst_port)
                results.append((probe.key, result))
                if result == "ok":
                    closing.append((_reset_for(target, seg.dst_port, probe.seq), target.as_id))
            while self._deadlines and self._deadlines[0][0] <= now:
                deadline, port = heapq.heappop(self._deadlines)
                probe = self._in_flight.get(port)
                if probe is not None and probe.deadline == deadline:
                    self._finish(port)
                    results.append((probe.key, "timeout"))
            due = self._due_probes(now)
        for segment, as_id in closing:
            self._send(build_frame(segment), as_id)
        for key, segment in due:
            if not self._send(build_frame(segment, ident=segment.seq), key[1]):
                with self._lock:
                    self._finish(segment.src_port)
                    health = self._health.get(key)
                    if health is not None:
                        health.probes["unsent"] += 1
        transitions = self._apply(results)
        if transitions:
            self._on_change(transitions)
        return transitions

    def _finish(self, port: int) -> None:
        probe = self._in_flight.pop(port, None)
        if probe is not None and probe.key in self._health:
            self._health[probe.key].in_flight = None

    def _due_probes(self, now: float) -> list[tuple[TargetKey, Segment]]:
        """Registers a probe for every target whose time has come (under the lock)."""
        due = []
        while self._due and self._due[0][0] <= now:
            at, key = heapq.heappop(self._due)
            target, health = self._targets.get(key), self._health.get(key)
            if target is None or health is None or health.next_probe != at:
                continue  # gone, or rescheduled since
            interval = target.check.interval_ms / 1000
            health.next_probe = max(at + interval, now + interval / 2)
            heapq.heappush(self._due, (health.next_probe, key))
            port = self._free_port() if health.in_flight is None else None
            if port is None:
                continue
            seq = secrets.randbits(32)
            deadline = now + target.check.timeout_ms / 1000
            self._in_flight[port] = _Probe(key, seq, deadline)
            heapq.heappush(self._deadlines, (deadline, port))
            health.in_flight = port
            due.append((key, Segment(target.source, target.address, port, target.port, seq, 0,
                                     TCP_SYN)))
        return due

    def _free_port(self) -> int | None:
        for _ in range(LAST_PORT - FIRST_PORT + 1):
            port = next(self._ports)
            if port not in self._in_flight:
                return port
        return None

    def _apply(self, results: list[tuple[TargetKey, str]]) -> list[Transition]:
        transitions = []
        with self._lock:
            for key, result in results:
                health, target = self._health.get(key), self._targets.get(key)
                if health is None or target is None:
                    continue
                health.probes[result] += 1
                if result == "ok" and health.up and not health.transitions:
                    health.reason = "answering probes"
                change = _count(health, target.check, result, self._clock())
                if change is not None:
                    health.up = not health.up
                    health.since = self._wall()
                    health.reason = change
                    health.transitions += 1
                    transitions.append(Transition(target, health.up, change, health.since))
        for t in transitions:
            self.events.append(t)
            (log.info if t.up else log.warning)(
                "health: VIP %s AS %s is %s: %s", t.target.vip, t.target.as_address,
                "up" if t.up else "down", t.reason)
        return transitions

    # --- what show lb reports -----------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Per checked VIP: its check and each AS's health (show lb, metrics)."""
        with self._lock:
            by_vip: dict[int, dict[str, Any]] = {}
            for key, target in sorted(self._targets.items()):
                entry = by_vip.get(target.vip_id)
                if entry is None:
                    prefix, protocol, port = target.vip_labels
                    check = target.check
                    entry = by_vip[target.vip_id] = {
                        "vip": {"id": target.vip_id, "key": target.vip, "prefix": prefix,
                                "protocol": protocol, "port": port},
                        "check": {
                            "kind": "tcp", "source": str(target.source),
                            "address": str(target.address), "port": target.port,
                            "interval": check.interval_ms / 1000,
                            "timeout": check.timeout_ms / 1000, "rise": check.rise,
                            "fall": check.fall, "on_down": str(check.on_down),
                            "flap_window": check.flap_window,
                        },
                        "ases": [],
                    }  # fmt: skip
                health = self._health[key]
                entry["ases"].append({
                    "address": str(target.as_address), "id": target.as_id,
                    "state": "up" if health.up else "down",
                    "since": _iso(health.since), "reason": health.reason,
                    "successes": health.successes, "failures": health.failures,
                    "rise_needed": health.rise_needed,
                    "probes": {k: health.probes.get(k, 0)
                               for k in ("ok", "refused", "timeout", "unsent")},
                    "transitions": health.transitions,
                })  # fmt: skip
            return list(by_vip.values())

    def event_list(self) -> list[dict[str, Any]]:
        return [
            {"time": _iso(t.at), "vip": t.target.vip, "as": str(t.target.as_address),
             "state": "up" if t.up else "down", "reason": t.reason}
            for t in list(self.events)
        ]


def _answer_kind(seg: Segment, seq: int) -> str | None:
    """'ok' for a SYN-ACK of the probe, 'refused' for a RST of it, None otherwise."""
    acks_probe = bool(seg.flags & TCP_ACK) and seg.ack == (seq + 1) & 0xFFFFFFFF
    if seg.flags & TCP_RST and acks_probe:
        return "refused"
    if seg.flags & TCP_SYN and acks_probe:
        return "ok"
    return None


def _reset_for(target: ProbeTarget, port: int, seq: int) -> Segment:
    """The RST that ends a probe the AS accepted (its next expected sequence number)."""
    return Segment(target.source, target.address, port, target.port, (seq + 1) & 0xFFFFFFFF, 0,
                   TCP_RST)


def _count(health: _Health, check: HealthCheck, result: str, now: float) -> str | None:
    """Counts one result; returns the reason of a state change, or None."""
    if result == "ok":
        health.successes += 1
        health.failures = 0
        if not health.up and health.successes >= health.rise_needed:
            damped = f", damped after {len(health.downs)} downs" if (
                health.rise_needed > check.rise) else ""
            return f"{health.successes} probes answered{damped}"
        return None
    health.failures += 1
    health.successes = 0
    if health.up and health.failures >= check.fall:
        what = "timed out" if result == "timeout" else "refused"
        health.downs.append(now)
        while check.flap_window and health.downs and health.downs[0] < now - check.flap_window:
            health.downs.popleft()
        if not check.flap_window:
            health.downs.clear()
        flaps = max(len(health.downs), 1)
        health.rise_needed = check.rise * min(2 ** (flaps - 1), MAX_DAMPING)
        return (f"{health.failures} probes failed, last {what} (every "
                f"{format_ms(check.interval_ms)}s)")
    return None


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
