"""One P4Runtime session to one switch.

It connects, becomes primary with the controller's election id, makes sure
the switch runs our pipeline (keeping a matching one, so a controller restart
does not wipe the flows), writes batches, reads back, and delivers stream
events (digests, idle-timeout notifications) to callbacks. When the stream
breaks it reconnects with exponential backoff and calls `on_ready` again, so
the owner can replay its state.

p4runtime-shell's P4RuntimeClient is not used here: it exits the process
when arbitration fails and has no reconnect, which a daemon cannot accept.

Messages are the generated ones on the compiled protobuf runtime
(p4runtime_proto); the stream's messages are parsed by p4runtime_codec,
which turns a malformed one into a MalformedStreamMessage instead of ending
the stream.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import grpc

from controller.p4runtime_codec import StreamMessage, parse_stream_message
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
# BMv2 answers a Read in one message (100k buckets are ~4.5 MB), past gRPC's
# 4 MB default; a table of a million flows is ~60 MB.
CHANNEL_OPTIONS = (("grpc.max_receive_message_length", 1 << 30),)


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


def write_errors(err: grpc.RpcError) -> list[tuple[int, int, str]]:
    """The per-update errors PI packs into the status details of a failed Write."""
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
    except Exception:  # noqa: BLE001 - a malformed detail must not hide the error itself
        log.debug("could not decode write error details", exc_info=True)
    return out


class SwitchSession:
    """A primary P4Runtime session that survives switch and network restarts."""

    def __init__(
        self,
        address: SwitchAddress,
        p4info: p4info_pb2.P4Info,
        device_config: bytes,
        election_id: int = 1,
        on_ready: Callable[[SwitchSession, bool], None] | None = None,
        on_stream_message: Callable[[SwitchSession, StreamMessage], None] | None = None,
    ) -> None:
        self.address = address
        self.p4info = p4info
        self.device_config = device_config
        self.cookie = pipeline_cookie(p4info, device_config)
        self.election_id = election_id
        self.on_ready = on_ready
        self.on_stream_message = on_stream_message
        self._channel: grpc.Channel | None = None
        self._stub: p4runtime_pb2_grpc.P4RuntimeStub | None = None
        self._out: queue.Queue[p4runtime_pb2.StreamMessageRequest | None] = queue.Queue()
        self._primary = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # writable: primary with our pipeline; connected: and the owner's
        # on_ready (read-back and reconcile) has finished.
        self._writable = threading.Event()
        self.connected = threading.Event()

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

    def _run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                self._session_once()
                backoff = 0.1
            except Exception as e:  # noqa: BLE001 - any failure means: reconnect
                if self._stopping.is_set():
                    break
                log.warning("switch %s: %s; retrying in %.1fs", self.address, e, backoff)
            self.connected.clear()
            self._writable.clear()
            self._primary.clear()
            if self._stopping.wait(backoff):
                break
            backoff = min(backoff * 2, 5.0)

    def _session_once(self) -> None:
        self._channel = grpc.insecure_channel(self.address.grpc_addr, options=CHANNEL_OPTIONS)
        try:
            self._serve_channel()
        finally:
            # Lets go of the stream too: a new one with our election id is
            # refused (INVALID_ARGUMENT) while the old one is still open.
            self._channel.close()

    def _serve_channel(self) -> None:
        assert self._channel is not None
        self._stub = p4runtime_pb2_grpc.P4RuntimeStub(self._channel)
        # The stream's messages are parsed by p4runtime_codec (see the module docstring).
        self._stream = self._channel.stream_stream(
            "/p4.v1.P4Runtime/StreamChannel",
            request_serializer=p4runtime_pb2.StreamMessageRequest.SerializeToString,
            response_deserializer=parse_stream_message)
        self._out = queue.Queue()
        self._send_arbitration()
        stream = self._stream(self._requests(self._out))
        reader = threading.Thread(target=self._read_stream, args=(stream,), daemon=True)
        reader.start()
        if not self._primary.wait(5):
            stream.cancel()
            raise SwitchError("not primary (another controller has a higher election id?)")
        kept = self._ensure_pipeline()
        self._writable.set()
        if self.on_ready is not None:
            self.on_ready(self, kept)
        self.connected.set()
        log.info("switch %s ready (pipeline %s)", self.address, "kept" if kept else "pushed")
        reader.join()
        if not self._stopping.is_set():
            raise SwitchError("stream closed")

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

    def _read_stream(self, stream: Iterable[StreamMessage]) -> None:
        try:
            for msg in stream:
                if isinstance(msg, p4runtime_pb2.StreamMessageResponse) and msg.HasField(
                    "arbitration"
                ):
                    if msg.arbitration.status.code == code_pb2.OK:
                        self._primary.set()
                    else:
                        self._primary.clear()
                elif self.on_stream_message is not None:
                    try:
                        self.on_stream_message(self, msg)
                    except Exception:  # noqa: BLE001 - a bad callback must not kill the stream
                        log.exception("stream message handler failed")
        except grpc.RpcError as e:
            if not self._stopping.is_set():
                log.warning("switch %s stream: %s", self.address, e.code())
        finally:
            self.connected.clear()
            self._writable.clear()
            self._primary.clear()
            self._out.put(None)

    def send(self, msg: p4runtime_pb2.StreamMessageRequest) -> None:
        """Queues a stream message (e.g. a DigestListAck)."""
        self._out.put(msg)

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

    def write(self, updates: Sequence[p4runtime_pb2.Update]) -> None:
        """Writes updates in batches; raises SwitchError listing every failed update."""
        if not self._writable.is_set() or self._stub is None:
            raise SwitchError(f"switch {self.address} is not connected")
        failures: list[tuple[int, int, str]] = []
        for start in range(0, len(updates), WRITE_BATCH):
            req = p4runtime_pb2.WriteRequest(device_id=self.address.device_id,
                                             updates=updates[start : start + WRITE_BATCH])
            self._set_election(req.election_id)
            try:
                self._stub.Write(req, timeout=60)
            except grpc.RpcError as e:
                errs = write_errors(e)
                if not errs:
                    raise SwitchError(f"switch {self.address}: write failed: {e.details()}") from e
                failures.extend((start + i, code, msg) for i, code, msg in errs)
        if failures:
            raise SwitchError(
                f"switch {self.address}: {len(failures)} of {len(updates)} updates failed, "
                f"first: {failures[0][2]}",
                failures,
            )

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


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
