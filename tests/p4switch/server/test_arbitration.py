"""Primary / backup election as PI's server does it, per role."""

import pytest

from p4switch.p4runtime.arbitration import Arbitration, StreamConnection
from p4switch.p4runtime.errors import P4RuntimeError
from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2


class Stream:
    def __init__(self):
        self.messages = []
        self.conn = StreamConnection(self.messages.append)

    def statuses(self):
        return [m.arbitration.status.code for m in self.messages]


def update(device_id=1, election=None, role=""):
    msg = p4runtime_pb2.MasterArbitrationUpdate(device_id=device_id)
    if election is not None:
        msg.election_id.high, msg.election_id.low = election
    if role:
        msg.role.name = role
    return msg


def test_highest_election_id_is_primary_and_everyone_is_told_on_change():
    arb = Arbitration(1)
    a, b = Stream(), Stream()
    arb.update(a.conn, update(election=(0, 1)))
    assert a.statuses() == [code_pb2.OK]
    arb.update(b.conn, update(election=(0, 2)))
    assert a.statuses() == [code_pb2.OK, code_pb2.ALREADY_EXISTS]
    assert b.statuses() == [code_pb2.OK]
    assert a.messages[-1].arbitration.election_id.low == 2
    arb.check_writer("", (0, 2))
    with pytest.raises(P4RuntimeError) as e:
        arb.check_writer("", (0, 1))
    assert e.value.code == code_pb2.PERMISSION_DENIED


def test_backup_joining_is_told_alone():
    arb = Arbitration(1)
    a, b = Stream(), Stream()
    arb.update(a.conn, update(election=(0, 5)))
    arb.update(b.conn, update(election=(0, 3)))
    assert a.statuses() == [code_pb2.OK]
    assert b.statuses() == [code_pb2.ALREADY_EXISTS]


def test_primary_leaving_promotes_the_next_highest():
    arb = Arbitration(1)
    a, b = Stream(), Stream()
    arb.update(a.conn, update(election=(0, 5)))
    arb.update(b.conn, update(election=(0, 3)))
    arb.remove(a.conn)
    assert b.statuses()[-1] == code_pb2.OK
    arb.check_writer("", (0, 3))


def test_duplicate_election_id_and_wrong_device_end_the_stream():
    arb = Arbitration(1)
    a, b, c = Stream(), Stream(), Stream()
    arb.update(a.conn, update(election=(0, 5)))
    with pytest.raises(P4RuntimeError) as e:
        arb.update(b.conn, update(election=(0, 5)))
    assert e.value.code == code_pb2.INVALID_ARGUMENT
    with pytest.raises(P4RuntimeError) as e:
        arb.update(c.conn, update(device_id=9, election=(0, 7)))
    assert e.value.code == code_pb2.NOT_FOUND
    with pytest.raises(P4RuntimeError) as e:
        arb.update(a.conn, update(election=(0, 6), role="other"))
    assert e.value.code == code_pb2.FAILED_PRECONDITION


def test_unset_election_id_never_becomes_primary():
    arb = Arbitration(1)
    a = Stream()
    arb.update(a.conn, update())
    assert a.statuses() == [code_pb2.NOT_FOUND]
    with pytest.raises(P4RuntimeError):
        arb.check_writer("", None)


def test_roles_elect_their_own_primaries():
    arb = Arbitration(1)
    a, b = Stream(), Stream()
    arb.update(a.conn, update(election=(0, 1), role="east"))
    arb.update(b.conn, update(election=(0, 1), role="west"))
    assert a.statuses() == [code_pb2.OK] and b.statuses() == [code_pb2.OK]
    arb.check_writer("east", (0, 1))
    with pytest.raises(P4RuntimeError) as e:
        arb.check_writer("north", (0, 1))
    assert e.value.code == code_pb2.NOT_FOUND


def test_without_streams_writes_need_no_election_id_as_in_pi():
    arb = Arbitration(1)
    arb.check_writer("", None)
    with pytest.raises(P4RuntimeError) as e:
        arb.check_writer("", (0, 1))
    assert e.value.code == code_pb2.PERMISSION_DENIED
