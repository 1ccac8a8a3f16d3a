"""Digests (packet -> DigestList -> ack) and idle-timeout notifications, end to end."""

import pytest
from frames import MAC_A, MAC_B, MAC_C, ethernet
from p4rt_client import Update, says, update

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

Entity = p4runtime_pb2.Entity
SHORT = 20 * 10**6  # max_timeout_ns for tests that want each sample soon


def digest_id(names):
    return names._find(names.digests, "learn_t").preamble.id


def forward_all(c, names, *macs):
    """dmac entries, so that every test frame comes out: a frame out means a frame
    processed, digest sample taken."""
    c.write(*[update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": mac}, "forward", port=1)) for mac in macs])


def send(switch, port, frame):
    switch.send(port, frame)
    switch.next_frame()


def configure(c, names, **config):
    entry = p4runtime_pb2.DigestEntry(digest_id=digest_id(names))
    for key, value in config.items():
        setattr(entry.config, key, value)
    c.write(update(Update.INSERT, digest_entry=entry))


def learned(message):
    return [tuple(m.bitstring for m in d.struct.members) for d in message.digest.data]


def test_digest_list_arrives_and_acked_samples_can_come_again(loaded):
    switch, c, names = loaded
    forward_all(c, names, MAC_B)
    configure(c, names, max_timeout_ns=SHORT, ack_timeout_ns=60 * 10**9)
    send(switch, 2, ethernet(MAC_B, src=MAC_C))
    first = c.next("digest")
    assert first.digest.digest_id == digest_id(names) and first.digest.list_id == 1
    assert learned(first) == [(b"\xcc", b"\x02")]
    # unacknowledged: the same sample is not sent again, a new one is
    send(switch, 2, ethernet(MAC_B, src=MAC_C))
    send(switch, 3, ethernet(MAC_B, src=MAC_A))
    second = c.next("digest")
    assert learned(second) == [(b"\xaa", b"\x03")]
    c.send(p4runtime_pb2.StreamMessageRequest(digest_ack=p4runtime_pb2.DigestListAck(
        digest_id=digest_id(names), list_id=1)))
    # The server handles stream messages in order: once a PacketOut sent after the
    # ack comes out of its port, the ack has been applied.
    probe = ethernet(MAC_B, payload=b"probe")
    c.packet_out(probe, m1=b"\x07")
    assert switch.next_frame() == (7, probe)
    send(switch, 2, ethernet(MAC_B, src=MAC_C))
    third = c.next("digest")
    assert learned(third) == [(b"\xcc", b"\x02")] and third.digest.list_id == 3


@pytest.mark.embedded_only("PI counts a list's samples only while ack_timeout_ns > 0")
def test_samples_are_batched_up_to_max_list_size(loaded):
    switch, c, names = loaded
    forward_all(c, names, MAC_B)
    configure(c, names, max_timeout_ns=3600 * 10**9, max_list_size=3)
    for src in (1, 2, 3):
        send(switch, 1, ethernet(MAC_B, src=src))
    message = c.next("digest")
    assert [s for s, _ in learned(message)] == [b"\x01", b"\x02", b"\x03"]


def test_samples_wait_at_most_max_timeout(loaded):
    switch, c, names = loaded
    forward_all(c, names, MAC_B)
    configure(c, names, max_timeout_ns=50 * 10**6, max_list_size=100)
    send(switch, 1, ethernet(MAC_B, src=7))
    assert learned(c.next("digest")) == [(b"\x07", b"\x01")]


@pytest.mark.embedded_only("BMv2 buffers samples taken before the DigestEntry and sends them "
                            "once it exists")
def test_no_digest_without_a_digest_entry(loaded):
    switch, c, names = loaded
    forward_all(c, names, MAC_B)
    send(switch, 1, ethernet(MAC_B, src=MAC_C))  # dropped: not configured
    configure(c, names, max_timeout_ns=SHORT)
    send(switch, 1, ethernet(MAC_B, src=MAC_A))
    assert learned(c.next("digest")) == [(b"\xaa", b"\x01")]


@pytest.mark.embedded_only("BMv2 takes max_timeout_ns 0 as 'no timeout' and waits for 1024 "
                            "samples")
def test_zero_max_timeout_sends_each_sample_at_once(loaded):
    switch, c, names = loaded
    forward_all(c, names, MAC_B)
    configure(c, names, max_timeout_ns=0)
    send(switch, 1, ethernet(MAC_B, src=MAC_A))
    assert learned(c.next("digest")) == [(b"\xaa", b"\x01")]


def test_digest_entry_read_and_errors(loaded):
    _, c, names = loaded
    configure(c, names, max_timeout_ns=5, max_list_size=6, ack_timeout_ns=7)
    [read] = c.read(Entity(digest_entry=p4runtime_pb2.DigestEntry(digest_id=digest_id(names))))
    config = read.digest_entry.config
    assert (config.max_timeout_ns, config.max_list_size, config.ack_timeout_ns) == (5, 6, 7)
    errors = c.write_errors(
        update(Update.INSERT, digest_entry=p4runtime_pb2.DigestEntry(digest_id=digest_id(names))),
        update(Update.MODIFY, digest_entry=p4runtime_pb2.DigestEntry(digest_id=0x18FFFFFF)))
    assert [code for code, _ in errors] == [code_pb2.ALREADY_EXISTS, code_pb2.NOT_FOUND]


def test_idle_entry_is_notified_with_its_key(loaded):
    switch, c, names = loaded
    entry = names.entry("learn_src", {"hdr.ethernet.src": MAC_C}, "nop")
    entry.idle_timeout_ns = 100 * 10**6
    entry.controller_metadata = 9
    c.write(update(Update.INSERT, table_entry=entry))
    message = c.next("idle_timeout_notification")
    [timed_out] = message.idle_timeout_notification.table_entry
    assert timed_out.table_id == entry.table_id and timed_out.match == entry.match
    assert timed_out.idle_timeout_ns == entry.idle_timeout_ns
    assert timed_out.controller_metadata == 9
    request = names.entry("learn_src", {"hdr.ethernet.src": MAC_C})
    request.time_since_last_hit.SetInParent()
    [back] = [e.table_entry for e in c.read(Entity(table_entry=request))]
    assert back.time_since_last_hit.elapsed_ns >= entry.idle_timeout_ns


def test_time_since_last_hit_only_on_ageing_tables(loaded):
    _, c, names = loaded
    request = p4runtime_pb2.TableEntry(table_id=names.table_id("dmac"))
    request.time_since_last_hit.SetInParent()
    with pytest.raises(Exception) as e:
        c.read(Entity(table_entry=request))
    assert says(e.value.details(), "idle timeout")
