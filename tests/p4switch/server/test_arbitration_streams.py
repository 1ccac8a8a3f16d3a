"""Primary / backup controllers over real StreamChannels."""

import grpc
import pytest
from frames import MAC_A, MAC_B, MAC_C, ethernet
from p4rt_client import Update, says, update
from test_digests_idle_timeout import configure, forward_all, send

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2


def dmac(names, mac, port):
    return update(Update.INSERT, table_entry=names.entry("dmac", {"hdr.ethernet.dst": mac},
                                                         "forward", port=port))


def test_higher_election_id_takes_over_and_everyone_is_told(loaded):
    switch, first, names = loaded
    second = switch.controller(election_id=(0, 2))
    told_first = first.next("arbitration").arbitration
    assert told_first.status.code == code_pb2.ALREADY_EXISTS
    assert (told_first.election_id.high, told_first.election_id.low) == (0, 2)
    with pytest.raises(grpc.RpcError) as e:
        first.write(dmac(names, MAC_B, 1))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    second.write(dmac(names, MAC_B, 1))
    second.close()
    assert first.next("arbitration").arbitration.status.code == code_pb2.OK
    first.write(dmac(names, MAC_C, 1))


def test_a_backup_joining_learns_who_is_primary_and_primary_is_not_disturbed(switch):
    primary = switch.controller(election_id=(1, 0))
    late = switch.controller(election_id=(0, 1), arbitrate=False)
    reply = late.arbitrate()
    assert reply.arbitration.status.code == code_pb2.ALREADY_EXISTS
    assert (reply.arbitration.election_id.high, reply.arbitration.election_id.low) == (1, 0)
    assert primary.pending("arbitration") == 0


def test_duplicate_election_id_ends_the_new_stream(loaded):
    switch, first, _ = loaded
    clash = switch.controller(election_id=(0, 1), arbitrate=False)
    request = p4runtime_pb2.StreamMessageRequest()
    request.arbitration.device_id = 0
    request.arbitration.election_id.low = 1
    clash.send(request)
    end = clash.next("end")
    assert end.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says(end.details(), "already used")
    first.write(dmac(loaded[2], MAC_C, 2))  # the primary is untouched


@pytest.mark.embedded_only("PI accepts any device id on the stream")
def test_arbitration_for_another_device_is_not_found(switch):
    stranger = switch.controller(device_id=5, arbitrate=False)
    request = p4runtime_pb2.StreamMessageRequest()
    request.arbitration.device_id = 5
    request.arbitration.election_id.low = 1
    stranger.send(request)
    assert stranger.next("end").code() == grpc.StatusCode.NOT_FOUND


def test_writes_must_carry_the_primary_election_id(loaded):
    switch, c, names = loaded
    anonymous = switch.controller(election_id=None, arbitrate=False)
    with pytest.raises(grpc.RpcError) as e:
        anonymous.write(dmac(names, MAC_B, 1))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.embedded_only("PI ignores roles")
def test_a_role_without_streams_is_not_found(loaded):
    switch, c, names = loaded
    other_role = switch.controller(election_id=(0, 1), arbitrate=False, role="nobody")
    with pytest.raises(grpc.RpcError) as e:
        other_role.write(dmac(names, MAC_B, 1))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_digests_and_idle_notifications_go_to_the_primary_only(loaded):
    """P4Runtime: stream notifications are for the primary. When it leaves, the backup
    is told it is primary and from then on receives them."""
    switch, primary, names = loaded
    # An election id lower than the primary's (0, 1).
    backup = switch.controller(election_id=(0, 0), arbitrate=False)
    assert backup.arbitrate().arbitration.status.code == code_pb2.ALREADY_EXISTS
    forward_all(primary, names, MAC_B)
    configure(primary, names, max_timeout_ns=20 * 10**6, ack_timeout_ns=0)
    send(switch, 2, ethernet(MAC_B, src=MAC_C))
    assert primary.next("digest").digest.data
    idle = names.entry("learn_src", {"hdr.ethernet.src": MAC_C}, "nop")
    idle.idle_timeout_ns = 100 * 10**6
    primary.write(update(Update.INSERT, table_entry=idle))
    assert primary.next("idle_timeout_notification")
    primary.close()
    told = backup.next("arbitration").arbitration
    assert told.status.code == code_pb2.OK
    assert (told.election_id.high, told.election_id.low) == (0, 0)
    # Nothing was sent to the backup while it was one.
    assert backup.pending("digest") == 0 and backup.pending("idle_timeout_notification") == 0
    send(switch, 3, ethernet(MAC_B, src=MAC_A))  # MAC_C is in learn_src now: no digest
    assert backup.next("digest").digest.data
    # An idle entry is notified again on every other sweep until it is deleted,
    # so the new primary hears of the one the old primary never deleted.
    [again] = backup.next("idle_timeout_notification").idle_timeout_notification.table_entry
    assert again.match == idle.match
