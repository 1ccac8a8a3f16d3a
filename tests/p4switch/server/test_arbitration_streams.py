"""Primary / backup controllers over real StreamChannels."""

import grpc
import pytest
from frames import MAC_B, MAC_C
from p4rt_client import Update, says, update

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
