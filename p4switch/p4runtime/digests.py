"""Digest lists: DigestEntry configs, sending DigestList messages, acks.

Semantics of PI's digest_mgr.cpp, with exact deadlines instead of PI's periodic
sweeps (which send up to two periods late):

- samples of a digest with no DigestEntry are dropped;
- a list is sent when it holds ``max_list_size`` samples (0: 1024, as BMv2), or
  ``max_timeout_ns`` after its first sample (0: each sample at once);
- while ``ack_timeout_ns`` > 0, a sample already in a sent, unacknowledged list
  is not sent again; a DigestListAck, or ``ack_timeout_ns`` passing without
  one, releases the list's samples.

Samples are offered on the data plane's packet thread (``offer``): booking one
is a few dict and set operations, while handing each sample to another thread
cost a thread wake-up per new flow, more than the packet itself. A list that
is due (full, or ``max_timeout_ns`` 0) is sealed there: numbered and booked
for its ack, but its message is built and sent by whoever calls
``send_sealed`` (the notification thread; ``run_deadlines`` does), so the
packet thread never waits for protobuf or the stream. Config writes and acks
come from gRPC threads; one lock guards the state and is held only for
bookkeeping, never while a message is built or sent.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from p4switch.p4runtime.bytestrings import to_bytes
from p4switch.p4runtime.errors import already_exists, invalid, not_found, unimplemented
from p4switch.p4runtime.p4info_index import DigestInfo, P4InfoIndex
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.runtime_api import Digest

Update = p4runtime_pb2.Update

# What PI's bmv2 backend gives BMv2 when the client sets max_list_size to 0
# (pi_learn_imp.cpp); it also keeps a DigestList far below gRPC's message limit.
DEFAULT_MAX_LIST_SIZE = 1024


@dataclass
class _SentList:
    samples: list[tuple[int, ...]]
    expires_ns: int


@dataclass
class _DigestState:
    info: DigestInfo
    config: p4runtime_pb2.DigestEntry.Config | None = None
    pending: list[tuple[int, ...]] = field(default_factory=list)
    pending_set: set[tuple[int, ...]] = field(default_factory=set)
    first_sample_ns: int = 0
    next_list_id: int = 1
    in_flight: set[tuple[int, ...]] = field(default_factory=set)
    unacked: dict[int, _SentList] = field(default_factory=dict)
    # (expires_ns, list_id) of unacked lists, soonest first; entries of lists
    # acked meanwhile stay until they surface (a heap cannot remove from the middle).
    expiries: list[tuple[int, int]] = field(default_factory=list)

    def reset(self) -> None:
        self.config = None
        self.pending.clear()
        self.pending_set.clear()
        self.in_flight.clear()
        self.unacked.clear()
        self.expiries.clear()


class DigestLists:
    def __init__(self, index: P4InfoIndex,
                 send: Callable[[p4runtime_pb2.StreamMessageResponse], None],
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._send = send
        self._clock = clock
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        # Sealed lists not sent yet: (state, list_id, samples), in list_id order.
        self._outbox: list[tuple[_DigestState, int, list[tuple[int, ...]]]] = []
        self._digests = {d.id: _DigestState(d) for d in index.digests.values()}
        self._by_name = {d.name: self._digests[d.id] for d in index.digests.values()}
        self.dropped_samples = 0  # samples of unconfigured or unknown digests

    # --- config (Write / Read) -------------------------------------------------

    def write_config(self, update_type: int, entry: p4runtime_pb2.DigestEntry) -> None:
        with self._lock:
            state = self._digests.get(entry.digest_id)
            if state is None:
                raise not_found(f"digest id {entry.digest_id} is not a digest of the loaded "
                                "P4Info")
            where = f"digest '{state.info.name}'"
            if update_type == Update.INSERT:
                if state.config is not None:
                    raise already_exists(f"{where} is already configured; use MODIFY")
            elif update_type in (Update.MODIFY, Update.DELETE):
                if state.config is None:
                    raise not_found(f"{where} is not configured")
            else:
                raise invalid(f"{where}: update type {update_type} is not INSERT, MODIFY or "
                              "DELETE")
            if update_type == Update.DELETE:
                state.reset()
                self._outbox = [sealed for sealed in self._outbox if sealed[0] is not state]
                return
            config = entry.config
            for name in ("max_timeout_ns", "max_list_size", "ack_timeout_ns"):
                if getattr(config, name) < 0:
                    raise invalid(f"{where}: {name} must not be negative, got "
                                  f"{getattr(config, name)}")
            state.config = p4runtime_pb2.DigestEntry.Config()
            state.config.CopyFrom(config)

    def read_config(self, request: p4runtime_pb2.DigestEntry, response: list) -> None:
        if request.digest_id == 0:
            raise unimplemented("digest_id must be set when reading DigestEntry")
        with self._lock:
            state = self._digests.get(request.digest_id)
            if state is None:
                raise not_found(f"digest id {request.digest_id} is not a digest of the loaded "
                                "P4Info")
            if state.config is None:
                raise not_found(f"digest '{state.info.name}' is not configured")
            entity = p4runtime_pb2.Entity()
            entity.digest_entry.digest_id = request.digest_id
            entity.digest_entry.config.CopyFrom(state.config)
            response.append(entity)

    def configured(self) -> list[p4runtime_pb2.DigestEntry]:
        with self._lock:
            return [
                p4runtime_pb2.DigestEntry(digest_id=s.info.id, config=s.config)
                for s in self._digests.values() if s.config is not None
            ]

    # --- samples, acks, deadlines ---------------------------------------------

    def offer(self, digest: Digest) -> bool:
        """Books a sample; True when the sender must run: a list was sealed, or a
        list began and its deadline is new. Cheap enough for the packet thread."""
        with self._lock:
            state = self._by_name.get(digest.name)
            if state is None or state.config is None:
                self.dropped_samples += 1
                return False
            sample = tuple(digest.values)
            if len(sample) != len(state.info.bitwidths):
                self.dropped_samples += 1
                return False
            config = state.config
            if config.ack_timeout_ns > 0:
                if sample in state.in_flight or sample in state.pending_set:
                    return False
            now = self._clock()
            began = not state.pending
            if began:
                state.first_sample_ns = now
            state.pending.append(sample)
            state.pending_set.add(sample)
            full = len(state.pending) >= (config.max_list_size or DEFAULT_MAX_LIST_SIZE)
            if full or config.max_timeout_ns == 0:
                self._seal(state, now)
                return True
            return began

    def add_sample(self, digest: Digest) -> None:
        """``offer`` and send whatever it sealed, on the calling thread."""
        if self.offer(digest):
            self.send_sealed()

    def ack(self, ack: p4runtime_pb2.DigestListAck) -> None:
        with self._lock:
            state = self._digests.get(ack.digest_id)
            if state is None:
                return
            sent = state.unacked.pop(ack.list_id, None)
            if sent is not None:
                state.in_flight.difference_update(sent.samples)

    def run_deadlines(self) -> int | None:
        """Seals lists and expires acks that are due, sends the sealed lists; the
        next deadline (clock ns) or None."""
        with self._lock:
            now = self._clock()
            upcoming: list[int] = []
            for state in self._digests.values():
                if state.config is None:
                    continue
                if state.pending:
                    due = state.first_sample_ns + state.config.max_timeout_ns
                    if due <= now:
                        self._seal(state, now)
                    else:
                        upcoming.append(due)
                # Runs after every data-plane event: with a list per millisecond
                # in flight, scanning them all each time cost more than the packets.
                expiries = state.expiries
                while expiries:
                    expires_ns, list_id = expiries[0]
                    sent = state.unacked.get(list_id)
                    if sent is not None and sent.expires_ns == expires_ns and expires_ns > now:
                        upcoming.append(expires_ns)
                        break
                    heapq.heappop(expiries)
                    if sent is not None and sent.expires_ns == expires_ns:
                        del state.unacked[list_id]
                        state.in_flight.difference_update(sent.samples)
            deadline = min(upcoming, default=None)
        self.send_sealed()
        return deadline

    def send_sealed(self) -> None:
        """Builds and sends the sealed lists, oldest first."""
        # One sender at a time, so lists leave in list_id order.
        with self._send_lock:
            with self._lock:
                outbox, self._outbox = self._outbox, []
            for state, list_id, samples in outbox:
                message = p4runtime_pb2.StreamMessageResponse()
                digest = message.digest
                digest.digest_id = state.info.id
                digest.list_id = list_id
                _DATA_FILLERS[state.info.kind](samples, digest.data)
                digest.timestamp = time.time_ns()
                self._send(message)

    def _seal(self, state: _DigestState, now: int) -> None:
        """Numbers the pending samples as a list and books its ack (under the lock)."""
        samples, state.pending = state.pending, []
        state.pending_set.clear()
        list_id = state.next_list_id
        state.next_list_id += 1
        if state.config.ack_timeout_ns > 0:
            # The ack clock starts here rather than at the send, which follows
            # as soon as the sender runs: the samples are as good as sent.
            expires_ns = now + state.config.ack_timeout_ns
            state.unacked[list_id] = _SentList(samples, expires_ns)
            heapq.heappush(state.expiries, (expires_ns, list_id))
            state.in_flight.update(samples)
        self._outbox.append((state, list_id, samples))


def _bitstrings(samples: list[tuple[int, ...]], data) -> None:
    add = data.add
    for sample in samples:
        add().bitstring = to_bytes(sample[0])


def _structs(samples: list[tuple[int, ...]], data) -> None:
    _struct_likes(samples, data, "struct")


def _tuples(samples: list[tuple[int, ...]], data) -> None:
    _struct_likes(samples, data, "tuple")


def _struct_likes(samples: list[tuple[int, ...]], data, kind: str) -> None:
    # Members are added in place: a P4Data built apart would be copied in again.
    add = data.add
    for sample in samples:
        struct_like = getattr(add(), kind)
        struct_like.SetInParent()  # a oneof member: set even with no members
        add_member = struct_like.members.add
        for value in sample:
            add_member().bitstring = to_bytes(value)


# Fill DigestList.data with the samples, by DigestInfo.kind.
_DATA_FILLERS = {"bitstring": _bitstrings, "struct": _structs, "tuple": _tuples}
