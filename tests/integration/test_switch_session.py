"""SwitchSession against a real switch: it recovers from a failed setup, and reads
answers of any size."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from controller.p4_schema import DecodedEntry, P4Schema
from controller.p4runtime_codec import EntryCodec
from controller.p4runtime_proto import p4runtime_pb2
from controller.switch_session import SwitchAddress, SwitchError, SwitchSession
from p4switch.launch import SwitchProcess
from tests.integration.lb_fixture import LB_JSON, lb_p4info, wait_for


@pytest.fixture
def switch(tmp_path):
    proc = SwitchProcess(LB_JSON, log_path=tmp_path / "switch.log").start()
    try:
        yield proc
    finally:
        proc.stop()


def test_a_failed_setup_is_retried_on_a_fresh_stream_and_succeeds(switch) -> None:
    """If the owner's on_ready fails (e.g. a read-back error), the session must let go
    of its stream: a new one with the same election id is refused while the old is open."""
    calls = []

    def on_ready(session: SwitchSession, kept: bool) -> None:
        calls.append(kept)
        if len(calls) == 1:
            raise RuntimeError("read-back failed")

    session = SwitchSession(SwitchAddress(switch.grpc_addr), lb_p4info(), LB_JSON.read_bytes(),
                            election_id=7, on_ready=on_ready)
    session.start()
    try:
        assert session.wait_ready(20), f"not ready after {len(calls)} setup attempts"
        assert calls == [False, True]  # pushed the pipeline, then kept it
    finally:
        session.stop()


def test_a_table_bigger_than_grpcs_default_message_limit_reads_back(switch) -> None:
    """BMv2 answers a Read in one message; 100k buckets are more than gRPC's 4 MB default."""
    session = SwitchSession(SwitchAddress(switch.grpc_addr), lb_p4info(), LB_JSON.read_bytes(),
                            election_id=7)
    session.start()
    try:
        assert session.wait_ready(20)
        schema = P4Schema(lb_p4info())
        codec = EntryCodec(schema)
        entries = [DecodedEntry("maglev", (vip, bucket), "use_bucket_as", (vip,))
                   for vip in range(1, 3) for bucket in range(65536)]
        session.write([codec.update(1, e) for e in entries])
        back = wait_for(lambda: session.read_table(schema.table("maglev").id), timeout=60)
        assert len(back) == len(entries)
        assert {codec.decode(b) for b in back} == set(entries)
    finally:
        session.stop()


def test_every_failed_update_of_a_big_batch_is_reported(switch) -> None:
    """A switch may cut a failed batch's per-update details short (gRPC's metadata
    limit); the updates past them are reported failed, never taken as written."""
    session = SwitchSession(SwitchAddress(switch.grpc_addr), lb_p4info(), LB_JSON.read_bytes(),
                            election_id=7)
    session.start()
    try:
        assert session.wait_ready(20)
        codec = EntryCodec(P4Schema(lb_p4info()))
        same = codec.update(1, DecodedEntry("maglev", (1, 5), "use_bucket_as", (1,)))
        with pytest.raises(SwitchError) as e:
            session.write([same] * 3000)
        assert {i for i, _, _ in e.value.errors} == set(range(1, 3000))
        assert "2999 of 3000" in str(e.value)
    finally:
        session.stop()


@contextlib.contextmanager
def primary_session(switch) -> Iterator[SwitchSession]:
    """A controller session that is primary on ``switch``, stopped after the block."""
    session = SwitchSession(SwitchAddress(switch.grpc_addr), lb_p4info(), LB_JSON.read_bytes(),
                            election_id=7)
    session.start()
    try:
        assert session.wait_ready(20)
        yield session
    finally:
        session.stop()


def test_a_write_of_one_request_reports_its_failed_updates(switch) -> None:
    """A write small enough for one request (sent as a blocking call) reports its
    failed updates by index as a batched write does, and applies the others."""
    with primary_session(switch) as session:
        schema = P4Schema(lb_p4info())
        codec = EntryCodec(schema)
        entry = DecodedEntry("maglev", (2, 9), "use_bucket_as", (3,))
        session.write([codec.update(1, entry)])
        other = DecodedEntry("maglev", (2, 10), "use_bucket_as", (4,))
        with pytest.raises(SwitchError) as e:
            session.write([codec.update(1, entry), codec.update(1, other)])
        [(index, code, message)] = e.value.errors
        assert index == 0 and code == 6 and "exists" in message  # ALREADY_EXISTS
        back = {codec.decode(b) for b in session.read_table(schema.table("maglev").id)}
        assert {entry, other} <= back


def test_write_requests_are_what_protobuf_serializes() -> None:
    """A batch of updates, as messages and as EntryCodec.update_bytes, goes out as
    the bytes of the WriteRequest protobuf would build."""
    session = SwitchSession(SwitchAddress("127.0.0.1:1", 3), lb_p4info(), LB_JSON.read_bytes(),
                            election_id=(5 << 64) + 9)
    codec = EntryCodec(P4Schema(lb_p4info()))
    entries = [DecodedEntry("maglev", (2, b), "use_bucket_as", (b % 7,)) for b in range(300)]
    messages = [codec.update(1 + b % 3, e) for b, e in enumerate(entries)]
    mixed = [codec.update_bytes(1 + b % 3, e) if b % 2 else messages[b]
             for b, e in enumerate(entries)]
    expected = p4runtime_pb2.WriteRequest(device_id=3, updates=messages)
    expected.election_id.high, expected.election_id.low = 5, 9
    assert session._write_request(mixed) == expected.SerializeToString()


def test_capabilities_names_the_p4runtime_version(switch) -> None:
    with primary_session(switch) as session:
        assert session.capabilities().startswith("1.")
