"""Digest lists honour max_list_size, max_timeout_ns and ack_timeout_ns (PI semantics,
exact deadlines). The clock is a fake: no test here waits."""

import pytest

from p4switch.p4runtime.digests import DigestLists
from p4switch.p4runtime.errors import P4RuntimeError
from p4switch.p4runtime.p4info_index import P4InfoIndex
from p4switch.p4runtime.proto import code_pb2, p4info_pb2, p4runtime_pb2
from p4switch.runtime_api import Digest

DIGEST_ID = 0x18000001
Update = p4runtime_pb2.Update


class Clock:
    now = 1_000

    def __call__(self):
        return self.now


def make(config=None):
    info = p4info_pb2.P4Info()
    digest = info.digests.add()
    digest.preamble.id = DIGEST_ID
    digest.preamble.name = "learn_t"
    digest.type_spec.struct.name = "learn_t"
    struct = info.type_info.structs["learn_t"]
    struct.members.add(name="src").type_spec.bitstring.bit.bitwidth = 48
    struct.members.add(name="port").type_spec.bitstring.bit.bitwidth = 9
    sent = []
    clock = Clock()
    lists = DigestLists(P4InfoIndex(info), sent.append, clock)
    if config is not None:
        lists.write_config(Update.INSERT, p4runtime_pb2.DigestEntry(
            digest_id=DIGEST_ID, config=p4runtime_pb2.DigestEntry.Config(**config)))
    return lists, sent, clock


def sample(src, port=1):
    return Digest("learn_t", [src, port])


def members(message):
    return [[m.bitstring for m in d.struct.members] for d in message.digest.data]


def test_samples_of_an_unconfigured_digest_are_dropped():
    lists, sent, _ = make()
    lists.add_sample(sample(1))
    assert sent == [] and lists.dropped_samples == 1


def test_zero_max_timeout_sends_each_sample_at_once():
    lists, sent, _ = make({"max_timeout_ns": 0})
    lists.add_sample(sample(0xAABB, 3))
    assert len(sent) == 1
    assert sent[0].digest.digest_id == DIGEST_ID and sent[0].digest.list_id == 1
    assert members(sent[0]) == [[b"\xaa\xbb", b"\x03"]]


def test_list_is_sent_when_full():
    lists, sent, _ = make({"max_timeout_ns": 10**9, "max_list_size": 3})
    for src in (1, 2):
        lists.add_sample(sample(src))
    assert sent == []
    lists.add_sample(sample(3))
    assert len(sent) == 1 and len(sent[0].digest.data) == 3


def test_list_is_sent_max_timeout_after_its_first_sample():
    lists, sent, clock = make({"max_timeout_ns": 500})
    lists.add_sample(sample(1))
    clock.now += 300
    lists.add_sample(sample(2))
    assert lists.run_deadlines() == 1_500
    clock.now = 1_499
    lists.run_deadlines()
    assert sent == []
    clock.now = 1_500
    assert lists.run_deadlines() is None
    assert len(sent) == 1 and len(sent[0].digest.data) == 2


def test_unacked_samples_are_not_sent_again_until_ack():
    lists, sent, _ = make({"max_timeout_ns": 0, "ack_timeout_ns": 10**9})
    lists.add_sample(sample(1))
    lists.add_sample(sample(1))
    assert len(sent) == 1
    lists.ack(p4runtime_pb2.DigestListAck(digest_id=DIGEST_ID, list_id=1))
    lists.add_sample(sample(1))
    assert len(sent) == 2 and sent[1].digest.list_id == 2


def test_ack_timeout_releases_samples_without_an_ack():
    lists, sent, clock = make({"max_timeout_ns": 0, "ack_timeout_ns": 100})
    lists.add_sample(sample(1))
    assert lists.run_deadlines() == clock.now + 100
    clock.now += 100
    lists.run_deadlines()
    lists.add_sample(sample(1))
    assert len(sent) == 2


def test_acked_lists_leave_the_deadlines_and_unacked_ones_expire_in_order():
    lists, sent, clock = make({"max_timeout_ns": 0, "ack_timeout_ns": 100})
    for i in range(1, 6):  # lists 1..5 sent at t, t+10, ..., t+40
        lists.add_sample(sample(i))
        clock.now += 10
    start = clock.now - 50
    for list_id in (1, 2, 4):
        lists.ack(p4runtime_pb2.DigestListAck(digest_id=DIGEST_ID, list_id=list_id))
    assert lists.run_deadlines() == start + 20 + 100  # list 3 is the first still unacked
    clock.now = start + 125
    assert lists.run_deadlines() == start + 40 + 100  # list 3 expired, list 5 next
    for i in (3, 5):
        lists.add_sample(sample(i))
    assert [m.digest.list_id for m in sent] == [1, 2, 3, 4, 5, 6]  # 3 again; 5 still held
    clock.now = start + 140
    assert lists.run_deadlines() == start + 125 + 100  # only the resent list 6 is left


def test_without_ack_timeout_duplicates_are_sent():
    lists, sent, _ = make({"max_timeout_ns": 0})
    lists.add_sample(sample(1))
    lists.add_sample(sample(1))
    assert len(sent) == 2


def test_config_errors_carry_pi_codes():
    lists, _, _ = make({"max_timeout_ns": 0})
    entry = p4runtime_pb2.DigestEntry(digest_id=DIGEST_ID)
    with pytest.raises(P4RuntimeError) as e:
        lists.write_config(Update.INSERT, entry)
    assert e.value.code == code_pb2.ALREADY_EXISTS
    with pytest.raises(P4RuntimeError) as e:
        lists.write_config(Update.INSERT, p4runtime_pb2.DigestEntry(digest_id=7))
    assert e.value.code == code_pb2.NOT_FOUND
    bad = p4runtime_pb2.DigestEntry(digest_id=DIGEST_ID)
    bad.config.max_list_size = -1
    with pytest.raises(P4RuntimeError) as e:
        lists.write_config(Update.MODIFY, bad)
    assert e.value.code == code_pb2.INVALID_ARGUMENT and "max_list_size" in e.value.message
    lists.write_config(Update.DELETE, entry)
    with pytest.raises(P4RuntimeError) as e:
        lists.read_config(entry, [])
    assert e.value.code == code_pb2.NOT_FOUND


def test_offer_books_on_the_calling_thread_and_leaves_the_send_to_send_sealed():
    lists, sent, _ = make({"max_timeout_ns": 10**9, "max_list_size": 2})
    assert lists.offer(sample(1)) is True  # a list began: its deadline is new
    assert lists.offer(sample(2)) is True  # full: sealed
    assert lists.offer(sample(3)) is True  # the next list began
    assert sent == []
    lists.send_sealed()
    assert [m.digest.list_id for m in sent] == [1] and len(sent[0].digest.data) == 2
    assert lists.offer(sample(4)) is True  # sealed list 2
    assert lists.offer(sample(5)) is True
    lists.run_deadlines()  # sends what is sealed, not the list still filling
    assert [m.digest.list_id for m in sent] == [1, 2]


def test_offer_of_a_sample_joining_a_list_needs_no_sender():
    lists, sent, _ = make({"max_timeout_ns": 10**9})
    assert lists.offer(sample(1)) is True
    assert lists.offer(sample(2)) is False
    assert sent == []


def test_sealed_samples_count_as_in_flight_before_they_are_sent():
    lists, sent, _ = make({"max_timeout_ns": 0, "ack_timeout_ns": 10**9})
    assert lists.offer(sample(1)) is True
    assert lists.offer(sample(1)) is False  # sealed, not sent yet: still a duplicate
    lists.send_sealed()
    assert len(sent) == 1


def test_deleting_the_config_drops_its_sealed_lists():
    lists, sent, _ = make({"max_timeout_ns": 0})
    lists.offer(sample(1))
    lists.write_config(Update.DELETE, p4runtime_pb2.DigestEntry(digest_id=DIGEST_ID))
    lists.send_sealed()
    assert sent == []
