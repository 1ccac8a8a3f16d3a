"""Table entries: the writes, reads and errors a controller sees (PI's behaviour)."""

import pytest
from frames import MAC_A, MAC_B, MAC_C, ethernet, ipv4
from p4rt_client import Update, says, update

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

Entity = p4runtime_pb2.Entity


def insert(entry):
    return update(Update.INSERT, table_entry=entry)


def modify(entry):
    return update(Update.MODIFY, table_entry=entry)


def delete(entry):
    return update(Update.DELETE, table_entry=entry)


def read_table(c, names, table):
    return [e.table_entry for e in c.read(Entity(table_entry=p4runtime_pb2.TableEntry(
        table_id=names.table_id(table))))]


def test_insert_read_modify_delete_and_packets_follow(loaded):
    switch, c, names = loaded
    entry = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)
    entry.controller_metadata = 77
    c.write(insert(entry))
    [back] = read_table(c, names, "dmac")
    assert back.match == entry.match and back.action == entry.action
    assert back.controller_metadata == 77
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 3

    c.write(modify(names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=4)))
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 4

    c.write(delete(names.entry("dmac", {"hdr.ethernet.dst": MAC_B})))
    assert read_table(c, names, "dmac") == []
    switch.send(1, ethernet(MAC_B))  # default action: drop
    assert_next_frame_is_probe(switch, c, names)


def assert_next_frame_is_probe(switch, c, names, port=5):
    """Packets leave in order: if a probe sent now is the next frame out, the
    packets sent before it were dropped (no waiting for something not to happen)."""
    c.write(insert(names.entry("dmac", {"hdr.ethernet.dst": 0x77}, "forward", port=port)))
    probe = ethernet(0x77, payload=b"probe")
    switch.send(1, probe)
    assert switch.next_frame() == (port, probe)


def test_duplicate_insert_and_missing_entries(loaded):
    _, c, names = loaded
    entry = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)
    c.write(insert(entry))
    other = names.entry("dmac", {"hdr.ethernet.dst": MAC_C}, "forward", port=3)
    errors = c.write_errors(insert(entry), modify(other), delete(other))
    assert [code for code, _ in errors] == [
        code_pb2.ALREADY_EXISTS, code_pb2.NOT_FOUND, code_pb2.NOT_FOUND]


def test_batch_reports_each_update_and_applies_the_good_ones(loaded):
    _, c, names = loaded
    good1 = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=1)
    bad = names.entry("dmac", {"hdr.ethernet.dst": MAC_C}, "forward", port=1)
    bad.table_id = 0x02FFFFFF
    good2 = names.entry("dmac", {"hdr.ethernet.dst": MAC_A}, "forward", port=2)
    errors = c.write_errors(insert(good1), insert(bad), insert(good2))
    assert errors[0][0] == code_pb2.OK and errors[2][0] == code_pb2.OK
    assert errors[1][0] == code_pb2.INVALID_ARGUMENT
    assert says(errors[1][1], str(0x02FFFFFF))
    assert len(read_table(c, names, "dmac")) == 2


def broken_entries(names):
    """(description, entry, words the error must contain)"""
    table = names.table("dmac")
    base = lambda: names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=1)  # noqa
    cases = []
    e = base()
    e.match[0].exact.value = b"\x01" + b"\x00" * 6
    cases.append(("value wider than 48 bits", e, "48 bits"))
    e = base()
    e.match[0].field_id = 9
    cases.append(("unknown match field", e, "match field id 9"))
    e = base()
    del e.match[:]
    cases.append(("missing exact field", e, "hdr.ethernet.dst"))
    e = base()
    e.ClearField("action")
    cases.append(("no action", e, "'action'"))
    e = base()
    e.action.action.action_id = names.action_id("set_dst_mac")
    cases.append(("action of another table", e, "set_dst_mac"))
    e = base()
    e.action.action.action_id = 0x01FFFFFF
    cases.append(("unknown action id", e, str(0x01FFFFFF)))
    e = base()
    e.action.action.params[0].value = b"\x02\x00"
    cases.append(("param wider than 9 bits", e, "port"))
    e = base()
    e.action.action.params.add(param_id=9, value=b"\x01")
    cases.append(("extra param", e, "1 parameters, 2 given"))
    e = base()
    del e.action.action.params[:]
    cases.append(("missing param", e, "1 parameters, 0 given"))
    e = base()
    e.priority = 5
    cases.append(("priority on an exact table", e, "priority must be 0"))
    e = base()
    e.idle_timeout_ns = 1000
    cases.append(("ttl on a table without idle timeout", e, "idle timeout"))
    e = base()
    e.match.add(field_id=table.match_fields[0].id).exact.value = b"\x01"
    cases.append(("field given twice", e, "twice"))
    e = base()
    e.match[0].ClearField("exact")
    e.match[0].lpm.value, e.match[0].lpm.prefix_len = b"\x01", 8
    cases.append(("wrong match kind", e, "exact match"))
    return cases


def test_malformed_entries_are_invalid_argument_naming_the_problem(loaded):
    _, c, names = loaded
    cases = broken_entries(names)
    errors = c.write_errors(*[insert(entry) for _, entry, _ in cases])
    for (what, _, words), (code, message) in zip(cases, errors, strict=True):
        assert code == code_pb2.INVALID_ARGUMENT, what
        assert says(message, words), (what, message)
    assert read_table(c, names, "dmac") == []


def test_default_entry_modify_read_and_reset(loaded):
    switch, c, names = loaded
    default = names.entry("dmac", None, "forward", port=6)
    default.is_default_action = True
    c.write(modify(default))
    switch.send(1, ethernet(MAC_C))
    assert switch.next_frame()[0] == 6
    request = p4runtime_pb2.TableEntry(table_id=names.table_id("dmac"), is_default_action=True)
    [back] = [e.table_entry for e in c.read(Entity(table_entry=request))]
    assert back.is_default_action and back.action.action == default.action.action
    reset = p4runtime_pb2.TableEntry(table_id=names.table_id("dmac"), is_default_action=True)
    c.write(modify(reset))
    [back] = [e.table_entry for e in c.read(Entity(table_entry=request))]
    assert back.action.action.action_id == names.action_id("drop")
    switch.send(1, ethernet(MAC_C))
    assert_next_frame_is_probe(switch, c, names)


def test_default_entry_cannot_be_inserted_or_deleted(loaded):
    _, c, names = loaded
    default = names.entry("dmac", None, "drop")
    default.is_default_action = True
    errors = c.write_errors(insert(default), delete(default))
    assert [code for code, _ in errors] == [code_pb2.INVALID_ARGUMENT] * 2


def test_action_scopes_and_const_default_actions_are_permission_denied(loaded):
    _, c, names = loaded
    default_only = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "default_only_drop")
    table_only = names.entry("dmac", None, "table_only_forward", port=1)
    table_only.is_default_action = True
    const_default = names.entry("const_default", None, "drop")
    const_default.is_default_action = True
    errors = c.write_errors(insert(default_only), modify(table_only), modify(const_default))
    assert [code for code, _ in errors] == [code_pb2.PERMISSION_DENIED] * 3


@pytest.mark.embedded_only("PI leaves const tables to BMv2, which answers UNKNOWN")
def test_const_table_entries_are_permission_denied_but_their_counters_are_not(loaded):
    _, c, names = loaded
    const_insert = names.entry("const_tbl", {"hdr.ethernet.ether_type": 0x1234}, "nop")
    const_change = names.entry("const_tbl", {"hdr.ethernet.ether_type": 0x88CC}, "nop")
    const_delete = names.entry("const_tbl", {"hdr.ethernet.ether_type": 0x88CC})
    errors = c.write_errors(insert(const_insert), modify(const_change), delete(const_delete))
    assert [code for code, _ in errors] == [code_pb2.PERMISSION_DENIED] * 3
    assert len(read_table(c, names, "const_tbl")) == 2


@pytest.mark.embedded_only("PI does not set is_const when reading")
def test_const_entries_are_read_back_as_const(loaded):
    _, c, names = loaded
    entries = read_table(c, names, "const_tbl")
    assert len(entries) == 2 and all(e.is_const for e in entries)
    values = {e.match[0].exact.value for e in entries}
    assert values == {b"\x88\xcc", b"\x90\x00"}


def test_ternary_priorities_decide_the_match(loaded):
    switch, c, names = loaded
    c.write(insert(names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=1)))
    low = names.entry("acl", {"hdr.ethernet.ether_type": (0x9900, 0xFF00)}, "forward",
                      priority=10, port=7)
    high = names.entry("acl", {"hdr.ethernet.ether_type": (0x9999, 0xFFFF)}, "forward",
                       priority=20, port=8)
    c.write(insert(low), insert(high))
    switch.send(1, ethernet(MAC_B, ether_type=0x9999))
    assert switch.next_frame()[0] == 8
    switch.send(1, ethernet(MAC_B, ether_type=0x9901))
    assert switch.next_frame()[0] == 7
    # the same key with another priority is another entry
    c.write(insert(names.entry("acl", {"hdr.ethernet.ether_type": (0x9999, 0xFFFF)}, "drop",
                               priority=5)))
    assert len(read_table(c, names, "acl")) == 3
    [back] = [e for e in read_table(c, names, "acl") if e.priority == 20]
    assert back.match == high.match


def test_priority_rules(loaded):
    _, c, names = loaded
    no_priority = names.entry("acl", {"hdr.ethernet.ether_type": (1, 0xFFFF)}, "nop")
    zero_mask = names.entry("acl", {"hdr.ethernet.ether_type": (0, 0)}, "nop", priority=1)
    outside = names.entry("acl", {"hdr.ethernet.ether_type": (0x11, 0x0F)}, "nop", priority=1)
    errors = c.write_errors(insert(no_priority), insert(zero_mask), insert(outside))
    assert [code for code, _ in errors] == [code_pb2.INVALID_ARGUMENT] * 3
    assert says(errors[0][1], "priority") and says(errors[1][1], "don't care")


@pytest.mark.embedded_only("PI passes a negative priority to BMv2, which answers UNKNOWN")
def test_negative_priority_is_invalid(loaded):
    _, c, names = loaded
    negative = names.entry("acl", {"hdr.ethernet.ether_type": (1, 0xFFFF)}, "nop", priority=-3)
    [(code, message)] = c.write_errors(insert(negative))
    assert code == code_pb2.INVALID_ARGUMENT and "-3" in message


def test_optional_match_and_wildcard(loaded):
    switch, c, names = loaded
    c.write(insert(names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=1)))
    from_2 = names.entry("acl", {"hdr.ethernet.ether_type": (0x9999, 0xFFFF),
                                 "std.ingress_port": 2}, "forward", priority=5, port=9)
    c.write(insert(from_2))
    switch.send(2, ethernet(MAC_B, ether_type=0x9999))
    assert switch.next_frame()[0] == 9
    switch.send(3, ethernet(MAC_B, ether_type=0x9999))
    assert switch.next_frame()[0] == 1
    [back] = read_table(c, names, "acl")
    assert back.match == from_2.match


def test_lpm_and_range(loaded):
    switch, c, names = loaded
    c.write(insert(names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=1)))
    route = names.entry("route", {"hdr.ipv4.dst": (0x0A010000, 16)}, "set_dst_mac",
                        mac=MAC_C)
    too_long = names.entry("route", {"hdr.ipv4.dst": (0x0A010001, 16)}, "nop")
    zero = names.entry("route", {"hdr.ipv4.dst": (0, 0)}, "nop")
    ttl = names.entry("range_tbl", {"hdr.ipv4.ttl": (0, 1)}, "drop", priority=1)
    inverted = names.entry("range_tbl", {"hdr.ipv4.ttl": (9, 2)}, "drop", priority=1)
    full = names.entry("range_tbl", {"hdr.ipv4.ttl": (0, 255)}, "drop", priority=1)
    errors = c.write_errors(insert(route), insert(too_long), insert(zero), insert(ttl),
                            insert(inverted), insert(full))
    assert [code for code, _ in errors] == [
        code_pb2.OK, code_pb2.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT, code_pb2.OK,
        code_pb2.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT]
    switch.send(1, ipv4(MAC_B, 0x0A01FF01))
    port, frame = switch.next_frame()
    assert port == 1 and frame[:6] == MAC_C.to_bytes(6, "big")
    switch.send(1, ipv4(MAC_B, 0x0A01FF01, ttl=1))
    assert_next_frame_is_probe(switch, c, names)


def test_padded_values_are_accepted_and_read_back_canonical(loaded):
    _, c, names = loaded
    entry = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)
    entry.match[0].exact.value = b"\x00\x00\x00\x00\x00\x00\x00\xbb"  # 8 bytes for 48 bits
    entry.action.action.params[0].value = b"\x00\x03"
    c.write(insert(entry))
    [back] = read_table(c, names, "dmac")
    assert back.match[0].exact.value == b"\xbb"
    assert back.action.action.params[0].value == b"\x03"


def test_wildcard_read_over_all_tables_and_filtered_read(loaded):
    _, c, names = loaded
    c.write(insert(names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)),
            insert(names.entry("dmac", {"hdr.ethernet.dst": MAC_C}, "drop")),
            insert(names.entry("route", {"hdr.ipv4.dst": (0x0A000000, 8)}, "nop")))
    everything = [e.table_entry for e in c.read(Entity(table_entry=p4runtime_pb2.TableEntry()))]
    by_table = {}
    for e in everything:
        by_table.setdefault(e.table_id, []).append(e)
    assert len(by_table[names.table_id("dmac")]) == 2
    assert len(by_table[names.table_id("route")]) == 1
    assert len(by_table[names.table_id("const_tbl")]) == 2
    one = names.entry("dmac", {"hdr.ethernet.dst": MAC_C})
    [found] = [e.table_entry for e in c.read(Entity(table_entry=one))]
    assert found.action.action.action_id == names.action_id("drop")
    missing = names.entry("dmac", {"hdr.ethernet.dst": 0x42})
    assert c.read(Entity(table_entry=missing)) == []


def test_unknown_table_is_invalid(loaded):
    _, c, names = loaded
    unknown = p4runtime_pb2.TableEntry(table_id=0x02000099)
    unknown.action.action.action_id = names.action_id("nop")
    [(code, message)] = c.write_errors(insert(unknown))
    assert code == code_pb2.INVALID_ARGUMENT and says(message, str(0x02000099))


@pytest.mark.parametrize("field", [
    "time_since_last_hit",
    pytest.param("is_const", marks=pytest.mark.embedded_only("PI ignores is_const")),
])
def test_read_only_fields_are_refused_in_writes(loaded, field):
    _, c, names = loaded
    entry = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)
    if field == "is_const":
        entry.is_const = True
    else:
        entry.time_since_last_hit.elapsed_ns = 1
    [(code, message)] = c.write_errors(insert(entry))
    assert code == code_pb2.INVALID_ARGUMENT and says(message, field)
