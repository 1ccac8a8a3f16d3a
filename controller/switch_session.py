"""One P4Runtime session to one switch.

It connects with the controller's election id and follows the switch's
arbitration: as primary it makes sure the switch runs our pipeline (keeping a
matching one, so a controller restart does not wipe the flows), writes
batches, reads back, and delivers stream events (digests, idle-timeout
notifications) to callbacks; as a backup it keeps the stream open and waits
to be named primary. Each time it becomes primary (first connect, reconnect,
or take-over from a primary that died) `on_ready` runs, so the owner can read
the switch back and write what differs. When the stream breaks it reconnects
at once and then every RETRY_MAX_S, so a restarted switch is programmed
within a second of listening.

p4runtime-shell's P4RuntimeClient is not used here: it exits the process
when arbitration fails and has no reconnect, which a daemon cannot accept.

Messages are the generated ones on the compiled protobuf runtime
(p4runtime_proto); the stream's messages are parsed by p4runtime_codec,
which turns a malformed one into a MalformedStreamMessage instead of ending
the stream.

Past 600 lines because the connection, its arbitration, and the writes and
reads it carries share one channel, stub and role; split, each part would
reach into the others' state.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import grpc

from controller.p4runtime_codec import (
    RawReadResponse,
    StreamMessage,
    parse_stream_message,
    varint,
)
from controller.p4runtime_proto import (
    code_pb2,
    p4info_pb2,
    p4runtime_pb2,
    p4runtime_pb2_grpc,
    status_pb2,
)

log = logging.getLogger(__name__)

# Updates per WriteRequest: big enough to amortise the RPC, small enough that
# one failed batch is cheap to report.
WRITE_BATCH = 2000
_UPDATES_FIELD = b"\x22"  # WriteRequest.updates: field 4, length-delimited
# BMv2 answers a Read in one message (100k buckets are ~4.5 MB), past gRPC's
# 4 MB default; a table of a million flows is ~60 MB.
# PI (BMv2) puts one p4.v1.Error per update of a failed batch in the trailers,
# ~400 bytes each: a failed batch of WRITE_BATCH is ~0.8 MB, past gRPC's 16 KB
# default, which would turn it into RESOURCE_EXHAUSTED with no details at all.
CHANNEL_OPTIONS = (("grpc.max_receive_message_length", 1 << 30),
                   ("grpc.max_metadata_size", 8 << 20))
# Reconnect delays: a switch that is not listening refuses at once, so trying
# again twice a second is cheap and programs a restarted switch promptly.
RETRY_MIN_S = 0.05
RETRY_MAX_S = 0.5
# How long a new stream may go without an arbitration answer.
ARBITRATION_TIMEOUT_S = 10.0
# Stream messages held while a new primary reads the switch back.
MAX_HELD_MESSAGES = 10_000


class SwitchError(Exception):
    """A P4Runtime call failed; `errors` holds per-update (index, code, message)."""

    def __init__(self, message: str, errors: list[tuple[int, int, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


@dataclass(frozen=True)
class SwitchAddress:
    grpc_addr: str
    device_id: int = 0

    def __str__(self) -> str:
        return f"{self.grpc_addr}#{self.device_id}"


def pipeline_cookie(p4info: p4info_pb2.P4Info, device_config: bytes) -> int:
    """A stable fingerprint of the pipeline, so a reconnect can keep a running one."""
    h = hashlib.sha256(p4info.SerializeToString(deterministic=True) + device_config)
    return int.from_bytes(h.digest()[:8], "big")


def write_errors(err: grpc.RpcError, batch_size: int = 0) -> list[tuple[int, int, str]]:
    """The per-update errors PI packs into the status details of a failed Write.

    A switch may send fewer details than updates (the embedded one caps them to
    fit gRPC's metadata limit): the updates past them count as failed."""
    out = []
    try:
        md = dict(err.trailing_metadata() or ())
        raw = md.get("grpc-status-details-bin")
        if raw:
            st = status_pb2.Status.FromString(raw)
            for i, detail in enumerate(st.details):
                e = p4runtime_pb2.Error()
                if detail.Unpack(e) and e.canonical_code != code_pb2.OK:
                    out.append((i, e.canonical_code, e.message))
            if st.details:
                out += [(i, code_pb2.UNKNOWN, f"no report of this update: {st.message}")
                        for i in range(len(st.details), batch_size)]
    except Exception:  # noqa: BLE001 - a malformed detail must not hide the error itself
        log.debug("could not decode write error details", exc_info=True)
    return out


class Role(enum.Enum):
    """This controller's place on one switch, as the switch's arbitration said."""

    CONNECTING = "connecting"
    BACKUP = "backup"
    PRIMARY = "primary"


@dataclass(frozen=True)
class _Arbitration:
    """One arbitration answer: OK makes us primary, anything else a backup."""

    primary: bool
    primary_election_id: int | None
    message: str


_STREAM_END = object()


class SwitchSession:
    """A P4Runtime session that survives switch, network and controller restarts.

    Several controllers may hold sessions to one switch, each with its own
    election id: the switch makes the highest one primary. A backup keeps its
    stream open and waits; when the switch names it primary (the primary died
    or let go of its stream) it becomes the writer, and `on_ready` runs again:
    the owner reads the switch back and writes only what differs. When it is
    demoted (a higher election id arrived), `on_demoted` runs and writes stop.
    Digests and idle notifications that arrive before `on_ready` has finished
    are held and delivered right after it, so nothing learned during a
    take-over is lost or handled against a half-read switch.
    """

    def __init__(
        self,
        address: SwitchAddress,
        p4info: p4info_pb2.P4Info,
        device_config: bytes,
        election_id: int = 1,
        on_ready: Callable[[SwitchSession, bool], None] | None = None,
        on_stream_message: Callable[[SwitchSession, StreamMessage], None] | None = None,
        on_demoted: Callable[[SwitchSession], None] | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        """``credentials``: TLS to the switch (grpc.ssl_channel_credentials); None: plaintext."""
        self.address = address
        self.credentials = credentials
        self.p4info = p4info
        self.device_config = device_config
        self.cookie = pipeline_cookie(p4info, device_config)
        self.election_id = election_id
        self.on_ready = on_ready
        self.on_stream_message = on_stream_message
        self.on_demoted = on_demoted
        self._channel: grpc.Channel | None = None
        self._stub: p4runtime_pb2_grpc.P4RuntimeStub | None = None
        self._out: queue.Queue[p4runtime_pb2.StreamMessageRequest | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # writable: primary with our pipeline; connected: and the owner's
        # on_ready (read-back and reconcile) has finished.
        self._writable = threading.Event()
        self.connected = threading.Event()
        self.role = Role.CONNECTING
        self.primary_election_id: int | None = None  # as the switch last told us
        self.last_error = ""
        self.promotions = 0  # times this session became primary (first connect included)
        # Stream messages that came before on_ready finished; the lock orders
        # holding, the hand-over in _become_primary and direct delivery.
        self._delivery = threading.Lock()
        self._held: list[StreamMessage] = []
        self.held_dropped = 0
        self._stream_error = ""

    # --- lifetime ------------------------------------------------------------

    def start(self) -> None:
        """Connects in the background, forever, until `stop`."""
        self._thread = threading.Thread(
            target=self._run, name=f"p4rt-{self.address}", daemon=True
        )
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._out.put(None)
        if self._channel is not None:
            self._channel.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def describe(self) -> str:
        """The role in words, for `show lb` and for the reason a write was skipped."""
        primary = self.primary_election_id
        if self.role is Role.PRIMARY:
            state = "primary" if self.connected.is_set() else "primary (reading back)"
            return f"{state}, election id {self.election_id}"
        if self.role is Role.BACKUP:
            return (f"backup, election id {self.election_id} (primary: "
                    f"{'none' if primary is None else f'election id {primary}'})")
        error = f": {self.last_error}" if self.last_error else ""
        return f"connecting, election id {self.election_id}{error}"

    def _run(self) -> None:
        backoff = RETRY_MIN_S
        while not self._stopping.is_set():
            try:
                self._session_once()
            except Exception as e:  # noqa: BLE001 - any failure means: reconnect
                if self._stopping.is_set():
                    break
                error = str(e)
                # Every attempt is logged once per distinct reason, not every 0.5 s.
                level = logging.WARNING if error != self.last_error else logging.DEBUG
                log.log(level, "switch %s: %s; retrying every %.2fs", self.address, error,
                        RETRY_MAX_S)
                self.last_error = error
            self._lose_stream()
            if self._stopping.wait(backoff):
                break
            backoff = min(backoff * 2, RETRY_MAX_S)

    def _lose_stream(self) -> None:
        was_primary = self.role is Role.PRIMARY
        with self._delivery:
            self.connected.clear()
            self._writable.clear()
            self._held = []
        self.role = Role.CONNECTING
        self.primary_election_id = None
        if was_primary:
            log.info("switch %s: stream lost while primary", self.address)

    def _session_once(self) -> None:
        if self.credentials is None:
            self._channel = grpc.insecure_channel(self.address.grpc_addr, options=CHANNEL_OPTIONS)
        else:
            self._channel = grpc.secure_channel(self.address.grpc_addr, self.credentials,
                                                options=CHANNEL_OPTIONS)
        try:
            self._serve_channel()
        finally:
            # Lets go of the stream too: a new one with our election id is
            # refused (INVALID_ARGUMENT) while the old one is still open.
            self._channel.close()

    def _serve_channel(self) -> None:
        assert self._channel is not None
        self._stub = p4runtime_pb2_grpc.P4RuntimeStub(self._channel)
        # Writes go as bytes serialized beforehand (write: while the switch applies
        # the batch before).
        self._write_raw = self._channel.unary_unary(
            "/p4.v1.P4Runtime/Write", request_serializer=None,
            response_deserializer=p4runtime_pb2.WriteResponse.FromString)
        # Reads of whole tables keep each TableEntry as bytes (read_tables_bytes).
        self._read_raw = self._channel.unary_stream(
            "/p4.v1.P4Runtime/Read",
            request_serializer=p4runtime_pb2.ReadRequest.SerializeToString,
            response_deserializer=RawReadResponse.FromString)
        # The stream's messages are parsed by p4runtime_codec (see the module docstring).
        self._stream = self._channel.stream_stream(
            "/p4.v1.P4Runtime/StreamChannel",
            request_serializer=p4runtime_pb2.StreamMessageRequest.SerializeToString,
            response_deserializer=parse_stream_message)
        self._out = queue.Queue()
        events: queue.Queue[object] = queue.Queue()
        self._send_arbitration()
        stream = self._stream(self._requests(self._out))
        reader = threading.Thread(target=self._read_stream, args=(stream, events),
                                  name=f"p4rt-stream-{self.address}", daemon=True)
        reader.start()
        try:
            self._follow_arbitration(events)
        finally:
            stream.cancel()
            reader.join(timeout=5)

    def _follow_arbitration(self, events: queue.Queue[object]) -> None:
        """Acts on the switch's arbitration answers until the stream ends."""
        while True:
            try:
                # A switch that accepts the stream but never answers is broken;
                # once answered, a backup waits as long as it takes.
                event = events.get(
                    timeout=ARBITRATION_TIMEOUT_S if self.role is Role.CONNECTING else None)
            except queue.Empty:
                raise SwitchError(
                    f"no arbitration answer within {ARBITRATION_TIMEOUT_S:.0f} s") from None
            if event is _STREAM_END:
                if self._stopping.is_set():
                    return
                raise SwitchError(f"stream closed{self._stream_error}")
            assert isinstance(event, _Arbitration)
            self.primary_election_id = event.primary_election_id
            self.last_error = ""
            if event.primary and self.role is not Role.PRIMARY:
                self._become_primary()
            elif not event.primary and self.role is not Role.BACKUP:
                self._become_backup(event)

    def _become_primary(self) -> None:
        self.role = Role.PRIMARY
        self.promotions += 1
        kept = self._ensure_pipeline()
        self._writable.set()
        if self.on_ready is not None:
            self.on_ready(self, kept)
        with self._delivery:
            held, self._held = self._held, []
            for msg in held:
                self._deliver(msg)
            self.connected.set()
        log.info("switch %s: primary, election id %d, ready (pipeline %s%s)", self.address,
                 self.election_id, "kept" if kept else "pushed",
                 f", {len(held)} held stream messages delivered" if held else "")

    def _become_backup(self, event: _Arbitration) -> None:
        with self._delivery:
            self.connected.clear()
            self._writable.clear()
        self.role = Role.BACKUP
        log.info("switch %s: backup, election id %d (%s)", self.address, self.election_id,
                 event.message)
        # Whatever we knew of the switch from an earlier time as primary is
        # stale now that another controller owns it.
        if self.promotions and self.on_demoted is not None:
            self.on_demoted(self)

    @staticmethod
    def _requests(
        out: queue.Queue[p4runtime_pb2.StreamMessageRequest | None],
    ) -> Iterator[p4runtime_pb2.StreamMessageRequest]:
        while True:
            msg = out.get()
            if msg is None:
                return
            yield msg

    def _send_arbitration(self) -> None:
        req = p4runtime_pb2.StreamMessageRequest()
        req.arbitration.device_id = self.address.device_id
        req.arbitration.election_id.high = self.election_id >> 64
        req.arbitration.election_id.low = self.election_id & ((1 << 64) - 1)
        self._out.put(req)

    def _read_stream(self, stream: Iterable[StreamMessage], events: queue.Queue[object]) -> None:
        self._stream_error = ""
        try:
            for msg in stream:
                if isinstance(msg, p4runtime_pb2.StreamMessageResponse) and msg.HasField(
                    "arbitration"
                ):
                    arb = msg.arbitration
                    primary = None
                    if arb.HasField("election_id"):
                        primary = (arb.election_id.high << 64) | arb.election_id.low
                    events.put(_Arbitration(arb.status.code == code_pb2.OK, primary,
                                            arb.status.message))
                    continue
                with self._delivery:
                    if not self.connected.is_set():
                        self._hold(msg)
                        continue
                self._deliver(msg)
        except grpc.RpcError as e:
            if not self._stopping.is_set():
                self._stream_error = f": {e.code().name} {e.details() or ''}".rstrip()
        finally:
            events.put(_STREAM_END)
            self._out.put(None)

    def _hold(self, msg: StreamMessage) -> None:
        if len(self._held) < MAX_HELD_MESSAGES:
            self._held.append(msg)
        else:
            # The switch sends digests again for flows that keep missing.
            self.held_dropped += 1

    def _deliver(self, msg: StreamMessage) -> None:
        if self.on_stream_message is None:
            return
        try:
            self.on_stream_message(self, msg)
        except Exception:  # noqa: BLE001 - a bad callback must not kill the stream
            log.exception("stream message handler failed")

    def send(self, msg: p4runtime_pb2.StreamMessageRequest) -> None:
        """Queues a stream message (e.g. a DigestListAck)."""
        self._out.put(msg)

    @property
    def is_primary(self) -> bool:
        """The switch's last arbitration answer named this session primary."""
        return self.role is Role.PRIMARY

    # --- pipeline ------------------------------------------------------------

    def _ensure_pipeline(self) -> bool:
        """Keeps a running pipeline with our cookie; pushes ours otherwise."""
        assert self._stub is not None
        try:
            got = self._stub.GetForwardingPipelineConfig(
                p4runtime_pb2.GetForwardingPipelineConfigRequest(
                    device_id=self.address.device_id,
                    response_type=p4runtime_pb2.GetForwardingPipelineConfigRequest.COOKIE_ONLY,
                ),
                timeout=10,
            )
            if got.config.HasField("cookie") and got.config.cookie.cookie == self.cookie:
                return True
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
        req = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=self.address.device_id,
            action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
        )
        self._set_election(req.election_id)
        req.config.p4info.CopyFrom(self.p4info)
        req.config.p4_device_config = self.device_config
        req.config.cookie.cookie = self.cookie
        self._stub.SetForwardingPipelineConfig(req, timeout=60)
        return False

    def _set_election(self, eid: p4runtime_pb2.Uint128) -> None:
        eid.high = self.election_id >> 64
        eid.low = self.election_id & ((1 << 64) - 1)

    # --- writes and reads ----------------------------------------------------

    def write(self, updates: Iterable[p4runtime_pb2.Update | bytes],
              batch: int = WRITE_BATCH) -> None:
        """Writes updates in batches of `batch`, in order; raises SwitchError listing every
        failed update.

        An update is a message or its serialized bytes (EntryCodec.update_bytes).
        `updates` may be lazy (a generator that encodes as it goes): the next batch
        is then built while the switch applies the one before, which is sent and
        answered first, so batches still apply in order and one failed batch
        never overtakes another."""
        if not self._writable.is_set() or self._stub is None:
            raise SwitchError(f"switch {self.address} is not connected")
        failures: list[tuple[int, int, str]] = []
        source = iter(updates)
        # (the answer to wait for, first index, size)
        in_flight: tuple[Callable[[], object], int, int] | None = None
        sent = 0
        while True:
            # Everything the next batch costs here (encoding, the request, its bytes)
            # is spent while the switch applies the one before.
            chunk = list(itertools.islice(source, batch))
            data = self._write_request(chunk) if chunk else b""
            if in_flight is not None:
                failures.extend(self._write_outcome(*in_flight))
                in_flight = None
            if not chunk:
                break
            if sent == 0 and len(chunk) < batch:
                # The whole write in one request: a blocking call answers sooner than a
                # future (~0.2 ms less here), which is what a one-entry write is made of.
                failures.extend(self._write_outcome(
                    functools.partial(self._write_raw, data, timeout=60), 0, len(chunk)))
                sent = len(chunk)
                break
            in_flight = (self._write_raw.future(data, timeout=60).result, sent, len(chunk))
            sent += len(chunk)
        if failures:
            raise SwitchError(
                f"switch {self.address}: {len(failures)} of {sent} updates failed, "
                f"first: {failures[0][2]}",
                failures,
            )

    def _write_request(self, updates: list[p4runtime_pb2.Update | bytes]) -> bytes:
        """The serialized WriteRequest: its device and election id, then each update
        (a message, or its bytes from EntryCodec.update_bytes) as field 4."""
        head = p4runtime_pb2.WriteRequest(device_id=self.address.device_id)
        self._set_election(head.election_id)
        parts = [head.SerializeToString()]
        for update in updates:
            data = update if isinstance(update, bytes) else update.SerializeToString()
            parts += (_UPDATES_FIELD, varint(len(data)), data)
        return b"".join(parts)

    def _write_outcome(self, answer: Callable[[], object], first: int,
                       size: int) -> list[tuple[int, int, str]]:
        """The failed updates of one batch, by index in the whole write; ``answer``
        waits for the switch's (a future's result, or the blocking call itself)."""
        try:
            answer()
        except grpc.RpcError as e:
            errs = write_errors(e, size)
            if not errs:
                raise SwitchError(f"switch {self.address}: write failed: {e.details()}") from e
            return [(first + i, code, msg) for i, code, msg in errs]
        return []

    def capabilities(self) -> str:
        """The P4Runtime API version the switch implements (Capabilities RPC)."""
        if self._stub is None:
            raise SwitchError(f"switch {self.address} is not connected")
        try:
            reply = self._stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=60)
        except grpc.RpcError as e:
            raise SwitchError(f"switch {self.address}: Capabilities failed: {e.details()}") from e
        return reply.p4runtime_api_version

    def read(self, entities: list[p4runtime_pb2.Entity]) -> list[p4runtime_pb2.Entity]:
        if self._stub is None:
            raise SwitchError(f"switch {self.address} is not connected")
        req = p4runtime_pb2.ReadRequest(device_id=self.address.device_id)
        req.entities.extend(entities)
        out: list[p4runtime_pb2.Entity] = []
        try:
            for resp in self._stub.Read(req, timeout=60):
                out.extend(resp.entities)
        except grpc.RpcError as e:
            raise SwitchError(f"switch {self.address}: read failed: {e.details()}") from e
        return out

    def read_table(self, table_id: int) -> list[p4runtime_pb2.TableEntry]:
        """Every entry of a table (EntryCodec.decode reads them)."""
        if self._stub is None:
            raise SwitchError(f"switch {self.address} is not connected")
        req = p4runtime_pb2.ReadRequest(device_id=self.address.device_id)
        req.entities.add().table_entry.table_id = table_id
        out: list[p4runtime_pb2.TableEntry] = []
        try:
            for resp in self._stub.Read(req, timeout=60):
                out.extend([entity.table_entry for entity in resp.entities])
        except grpc.RpcError as e:
            raise SwitchError(f"switch {self.address}: read failed: {e.details()}") from e
        return out

    def read_tables_bytes(self, table_ids: Sequence[int]) -> list[TableRead]:
        """Every entry of each table as its TableEntry's bytes. The reads are all
        sent now, so the switch builds the next answers while the caller works
        on the first (EntryCodec.table_entry_bytes says what the bytes hold)."""
        if self._stub is None:
            raise SwitchError(f"switch {self.address} is not connected")
        reads = []
        for table_id in table_ids:
            req = p4runtime_pb2.ReadRequest(device_id=self.address.device_id)
            req.entities.add().table_entry.table_id = table_id
            reads.append(TableRead(str(self.address), self._read_raw(req, timeout=60)))
        return reads

    def read_counter(
        self, counter_id: int, indices: list[int] | None = None
    ) -> dict[int, tuple[int, int]]:
        """Cells of an indirect counter (all of them when `indices` is None)."""
        if indices is not None and not indices:
            return {}
        entities = []
        for index in [None] if indices is None else indices:
            ent = p4runtime_pb2.Entity()
            ent.counter_entry.counter_id = counter_id
            if index is not None:
                ent.counter_entry.index.index = index
            entities.append(ent)
        return {
            e.counter_entry.index.index: (
                e.counter_entry.data.byte_count,
                e.counter_entry.data.packet_count,
            )
            for e in self.read(entities)
        }


class TableRead:
    """One table's Read in flight: iterate for its TableEntries' bytes, response
    by response as the switch streams them; `cancel` ends it if not consumed."""

    def __init__(self, switch: str, call) -> None:
        self._switch = switch
        self._call = call

    def __iter__(self) -> Iterator[bytes]:
        try:
            for resp in self._call:
                for entity in resp.entities:
                    yield entity.table_entry
        except grpc.RpcError as e:
            raise SwitchError(f"switch {self._switch}: read failed: {e.details()}") from e

    def cancel(self) -> None:
        self._call.cancel()


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
