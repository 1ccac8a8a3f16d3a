"""Action profile members and groups (with weights), and indirect table entries."""

import pytest
from frames import MAC_A, MAC_B, MAC_C, ethernet
from p4rt_client import ON_BMV2, Update, update

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

Entity = p4runtime_pb2.Entity


def profile_id(names):
    return names._find(names.profiles, "ecmp_selector").preamble.id


def member(names, member_id, port):
    return p4runtime_pb2.ActionProfileMember(
        action_profile_id=profile_id(names), member_id=member_id,
        action=names.action_msg("forward", port=port))


def group(names, group_id, members, max_size=0):
    msg = p4runtime_pb2.ActionProfileGroup(action_profile_id=profile_id(names),
                                           group_id=group_id, max_size=max_size)
    for member_id, weight in members:
        msg.members.add(member_id=member_id, weight=weight)
    return msg


def ecmp_entry(names, dst, member_id=None, group_id=None):
    entry = names.entry("ecmp", {"hdr.ethernet.dst": dst})
    if member_id is not None:
        entry.action.action_profile_member_id = member_id
    if group_id is not None:
        entry.action.action_profile_group_id = group_id
    return entry


def test_members_groups_and_indirect_entries(loaded):
    switch, c, names = loaded
    c.write(update(Update.INSERT, action_profile_member=member(names, 1, 4)),
            update(Update.INSERT, action_profile_member=member(names, 2, 5)),
            update(Update.INSERT, action_profile_group=group(names, 10, [(1, 1), (2, 3)])),
            update(Update.INSERT, table_entry=ecmp_entry(names, MAC_B, member_id=1)),
            update(Update.INSERT, table_entry=ecmp_entry(names, MAC_C, group_id=10)))
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 4
    ports = set()
    for src in range(40):
        switch.send(1, ethernet(MAC_C, src=0x020000000000 + src))
        ports.add(switch.next_frame()[0])
    assert ports == {4, 5}

    [read_group] = [e.action_profile_group for e in c.read(Entity(
        action_profile_group=p4runtime_pb2.ActionProfileGroup(
            action_profile_id=profile_id(names), group_id=10)))]
    assert [(m.member_id, m.weight) for m in read_group.members] == [(1, 1), (2, 3)]
    members = c.read(Entity(action_profile_member=p4runtime_pb2.ActionProfileMember(
        action_profile_id=profile_id(names))))
    if not ON_BMV2:  # PI lists a member of weight W W times (its weight copies)
        assert [m.action_profile_member.member_id for m in members] == [1, 2]
    entries = c.read(Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=names.table_id("ecmp"))))
    actions = {e.table_entry.match[0].exact.value: e.table_entry.action for e in entries}
    assert actions[b"\xbb"].action_profile_member_id == 1
    assert actions[b"\xcc"].action_profile_group_id == 10

    # shrink the group to member 1 only: every flow goes to port 4
    c.write(update(Update.MODIFY, action_profile_group=group(names, 10, [(1, 2)])))
    for src in range(10):
        switch.send(1, ethernet(MAC_C, src=0x020000000000 + src))
        assert switch.next_frame()[0] == 4
    c.write(update(Update.DELETE, action_profile_member=member(names, 2, 5)))


@pytest.mark.embedded_only("PI: INVALID_ARGUMENT for unknown members in entries, UNKNOWN "
                            "for members in use")
def test_member_and_group_errors(loaded):
    _, c, names = loaded
    c.write(update(Update.INSERT, action_profile_member=member(names, 1, 4)),
            update(Update.INSERT, action_profile_group=group(names, 10, [(1, 1)])))
    wrong_action = p4runtime_pb2.ActionProfileMember(
        action_profile_id=profile_id(names), member_id=3,
        action=names.action_msg("set_dst_mac", mac=1))
    errors = c.write_errors(
        update(Update.INSERT, action_profile_member=member(names, 1, 4)),
        update(Update.INSERT, action_profile_member=wrong_action),
        update(Update.INSERT, action_profile_group=group(names, 11, [(99, 1)])),
        update(Update.INSERT, action_profile_group=group(names, 12, [(1, 0)])),
        update(Update.INSERT, action_profile_group=group(names, 13, [(1, 2)], max_size=1)),
        update(Update.DELETE, action_profile_member=member(names, 1, 4)),
        update(Update.MODIFY, action_profile_member=member(names, 5, 4)),
        update(Update.INSERT, table_entry=ecmp_entry(names, MAC_A, member_id=42)),
        update(Update.INSERT, table_entry=names.entry("ecmp", {"hdr.ethernet.dst": MAC_A},
                                                      "forward", port=1)),
    )
    assert [code for code, _ in errors] == [
        code_pb2.ALREADY_EXISTS, code_pb2.INVALID_ARGUMENT, code_pb2.NOT_FOUND,
        code_pb2.INVALID_ARGUMENT, code_pb2.RESOURCE_EXHAUSTED, code_pb2.FAILED_PRECONDITION,
        code_pb2.NOT_FOUND, code_pb2.NOT_FOUND, code_pb2.INVALID_ARGUMENT]
    assert "99" in errors[2][1] and "group(s) 10" in errors[5][1]
    # a refused group update leaves the group as it was
    [read_group] = c.read(Entity(action_profile_group=p4runtime_pb2.ActionProfileGroup(
        action_profile_id=profile_id(names), group_id=10)))
    assert [(m.member_id, m.weight) for m in read_group.action_profile_group.members] == [(1, 1)]


@pytest.mark.embedded_only("BMv2 answers UNKNOWN")
def test_group_in_use_cannot_be_deleted(loaded):
    _, c, names = loaded
    c.write(update(Update.INSERT, action_profile_member=member(names, 1, 4)),
            update(Update.INSERT, action_profile_group=group(names, 10, [(1, 1)])),
            update(Update.INSERT, table_entry=ecmp_entry(names, MAC_B, group_id=10)))
    [(code, _)] = c.write_errors(
        update(Update.DELETE, action_profile_group=group(names, 10, [])))
    assert code == code_pb2.FAILED_PRECONDITION
    c.write(update(Update.DELETE, table_entry=ecmp_entry(names, MAC_B)),
            update(Update.DELETE, action_profile_group=group(names, 10, [])),
            update(Update.DELETE, action_profile_member=member(names, 1, 4)))
    assert c.read(Entity(action_profile_member=p4runtime_pb2.ActionProfileMember())) == []
