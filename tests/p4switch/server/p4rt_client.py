"""A small P4Runtime client for the server tests: raw protos over gRPC, plus a way to
name P4Info objects instead of ids. It deliberately does not use the server's code."""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import grpc
from google.protobuf import text_format

from p4switch.p4runtime.proto import p4info_pb2, p4runtime_pb2, p4runtime_pb2_grpc, status_pb2

WAIT = 10.0  # seconds to wait for a message the test expects (never asserted on)
ON_BMV2 = os.environ.get("TARGET", "embedded") == "bmv2"

SetAction = p4runtime_pb2.SetForwardingPipelineConfigRequest
Update = p4runtime_pb2.Update


def load_p4info(path: Path) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Parse(path.read_text(), info)
    return info


def encode(value: int, width_bits: int) -> bytes:
    """The canonical P4Runtime byte string of ``value`` (the server answers in it)."""
    assert value >> width_bits == 0, (value, width_bits)
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


class P4Names:
    """P4Info lookups by name, and entry builders for tests."""

    def __init__(self, p4info: p4info_pb2.P4Info) -> None:
        self.p4info = p4info
        self.tables = {t.preamble.name: t for t in p4info.tables}
        self.actions = {a.preamble.name: a for a in p4info.actions}
        self.counters = {c.preamble.name: c for c in p4info.counters}
        self.meters = {m.preamble.name: m for m in p4info.meters}
        self.profiles = {a.preamble.name: a for a in p4info.action_profiles}
        self.digests = {d.preamble.name: d for d in p4info.digests}

    def _find(self, objects: dict, name: str):
        matches = [v for k, v in objects.items() if k == name or k.endswith("." + name)]
        assert len(matches) == 1, f"{name!r}: {len(matches)} matches in {sorted(objects)}"
        return matches[0]

    def table(self, name: str):
        return self._find(self.tables, name)

    def action(self, name: str):
        return self._find(self.actions, name)

    def table_id(self, name: str) -> int:
        return self.table(name).preamble.id

    def action_id(self, name: str) -> int:
        return self.action(name).preamble.id

    def action_msg(self, name: str, **params: int) -> p4runtime_pb2.Action:
        info = self.action(name)
        msg = p4runtime_pb2.Action(action_id=info.preamble.id)
        for p in info.params:
            if p.name in params:
                msg.params.add(param_id=p.id, value=encode(params[p.name], p.bitwidth))
        return msg

    def entry(self, table: str, match: dict | None = None, action: str | None = None,
              priority: int = 0, **params: int) -> p4runtime_pb2.TableEntry:
        """match: {field name: value | (value, mask|prefix_len) | ("range", lo, hi)}."""
        info = self.table(table)
        entry = p4runtime_pb2.TableEntry(table_id=info.preamble.id, priority=priority)
        fields = {f.name: f for f in info.match_fields}
        for name, value in (match or {}).items():
            f = fields[name]
            fm = entry.match.add(field_id=f.id)
            kind = p4info_pb2.MatchField.MatchType.Name(f.match_type)
            if kind == "EXACT":
                fm.exact.value = encode(value, f.bitwidth)
            elif kind == "OPTIONAL":
                fm.optional.value = encode(value, f.bitwidth)
            elif kind == "LPM":
                fm.lpm.value, fm.lpm.prefix_len = encode(value[0], f.bitwidth), value[1]
            elif kind == "TERNARY":
                fm.ternary.value = encode(value[0], f.bitwidth)
                fm.ternary.mask = encode(value[1], f.bitwidth)
            elif kind == "RANGE":
                fm.range.low = encode(value[0], f.bitwidth)
                fm.range.high = encode(value[1], f.bitwidth)
        if action is not None:
            entry.action.action.CopyFrom(self.action_msg(action, **params))
        return entry


def says(message: str, *words: str) -> bool:
    """The error message names what it must; BMv2's own messages are not compared."""
    return ON_BMV2 or all(word in message for word in words)


def update(update_type: int, **entity) -> p4runtime_pb2.Update:
    msg = p4runtime_pb2.Update(type=update_type)
    for name, value in entity.items():
        getattr(msg.entity, name).CopyFrom(value)
    return msg


def write_errors(error: grpc.RpcError) -> list[tuple[int, str]]:
    """(canonical code, message) of every update of a failed batch, as PI reports them."""
    assert error.code() == grpc.StatusCode.UNKNOWN, error
    for key, value in error.trailing_metadata():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            out = []
            for detail in status.details:
                p4_error = p4runtime_pb2.Error()
                assert detail.Unpack(p4_error)
                out.append((p4_error.canonical_code, p4_error.message))
            return out
    raise AssertionError("no grpc-status-details-bin in the error")


class Controller:
    """One P4Runtime client with an open StreamChannel (optionally arbitrated)."""

    def __init__(self, address: str, device_id: int = 0, election_id: tuple | None = (0, 1),
                 role: str = "", arbitrate: bool = True,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        self.device_id = device_id
        self.election_id = election_id
        self.role = role
        self.channel = (grpc.insecure_channel(address) if credentials is None
                        else grpc.secure_channel(address, credentials))
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self._out: queue.Queue = queue.Queue()
        self.received: dict[str, queue.Queue] = {
            kind: queue.Queue() for kind in
            ("arbitration", "packet", "digest", "idle_timeout_notification", "error", "end")
        }
        self.stream = self.stub.StreamChannel(iter(self._out.get, None))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if arbitrate:
            self.arbitrate()

    def _read(self) -> None:
        try:
            for message in self.stream:
                self.received[message.WhichOneof("update")].put(message)
        except grpc.RpcError as e:
            self.received["end"].put(e)
            return
        self.received["end"].put(None)

    def arbitrate(self, election_id: tuple | None = None, device_id: int | None = None):
        if election_id is not None:
            self.election_id = election_id
        request = p4runtime_pb2.StreamMessageRequest()
        arb = request.arbitration
        arb.device_id = self.device_id if device_id is None else device_id
        if self.election_id is not None:
            arb.election_id.high, arb.election_id.low = self.election_id
        if self.role:
            arb.role.name = self.role
        self._out.put(request)
        return self.next("arbitration")

    def next(self, kind: str, timeout: float = WAIT):
        return self.received[kind].get(timeout=timeout)

    def pending(self, kind: str) -> int:
        return self.received[kind].qsize()

    def send(self, request: p4runtime_pb2.StreamMessageRequest) -> None:
        self._out.put(request)

    def _stamp(self, request) -> None:
        request.device_id = self.device_id
        if self.election_id is not None:
            request.election_id.high, request.election_id.low = self.election_id
        if self.role:
            request.role = self.role

    def set_pipeline(self, p4info, device_config: bytes,
                     action: int = SetAction.VERIFY_AND_COMMIT, cookie: int | None = None):
        request = SetAction(action=action)
        self._stamp(request)
        if p4info is not None:
            request.config.p4info.CopyFrom(p4info)
        request.config.p4_device_config = device_config
        if cookie is not None:
            request.config.cookie.cookie = cookie
        return self.stub.SetForwardingPipelineConfig(request)

    def get_pipeline(self, response_type: int = 0):
        request = p4runtime_pb2.GetForwardingPipelineConfigRequest(
            device_id=self.device_id, response_type=response_type)
        return self.stub.GetForwardingPipelineConfig(request).config

    def write(self, *updates: p4runtime_pb2.Update) -> None:
        request = p4runtime_pb2.WriteRequest()
        self._stamp(request)
        request.updates.extend(updates)
        self.stub.Write(request)

    def write_errors(self, *updates: p4runtime_pb2.Update) -> list[tuple[int, str]]:
        """Write a batch that must fail; the per-update (code, message) list."""
        try:
            self.write(*updates)
        except grpc.RpcError as e:
            return write_errors(e)
        raise AssertionError("the batch was accepted")

    def read(self, *entities: p4runtime_pb2.Entity) -> list[p4runtime_pb2.Entity]:
        request = p4runtime_pb2.ReadRequest(device_id=self.device_id, entities=entities)
        return [e for response in self.stub.Read(request) for e in response.entities]

    def packet_out(self, payload: bytes, **metadata: bytes) -> None:
        request = p4runtime_pb2.StreamMessageRequest()
        request.packet.payload = payload
        for metadata_id, value in metadata.items():
            request.packet.metadata.add(metadata_id=int(metadata_id.lstrip("m")), value=value)
        self._out.put(request)

    def close(self) -> None:
        self._out.put(None)
        self.channel.close()
        self._reader.join(timeout=WAIT)
