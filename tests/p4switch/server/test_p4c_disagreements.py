"""Pipelines whose P4Info and BMv2 JSON disagree the way p4c writes them: they load,
as on BMv2, and only what BMv2 refuses is refused (p4switch/p4runtime/config_agreement.py).

srv_dead_table: tables p4c removed from the JSON as dead code.
srv_key_widths: match fields of type `error` (P4Info: no bitwidth, JSON: 32 bits)
and of @p4runtime_translation types (P4Info: the controller's width); and bit<0>
fields and parameters, where both say 0 bits (the data plane used to refuse them).
"""

import json

import grpc
import pytest
from frames import MAC_A, MAC_B, MAC_C, ethernet
from p4rt_client import ON_BMV2, SetAction, Update, says, update
from switch_harness import program

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

Entity = p4runtime_pb2.Entity
TableEntry = p4runtime_pb2.TableEntry

# What BMv2's BAD_MATCH_KEY becomes: PI answers UNKNOWN ("Error when adding match
# entry to target"); the embedded switch gives data-plane key refusals
# INVALID_ARGUMENT (p4switch/p4runtime/__init__.py).
KEY_REFUSED = code_pb2.UNKNOWN if ON_BMV2 else code_pb2.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def dead_table():
    return program("srv_dead_table")


@pytest.fixture(scope="module")
def key_widths():
    return program("srv_key_widths")


def push(switch, prog):
    """The switch's primary controller, with ``prog`` pushed, and the P4Info names."""
    c = switch.controller()
    c.set_pipeline(prog.p4info, prog.json)
    return c, prog.names


@pytest.fixture
def dead_loaded(switch, dead_table):
    return push(switch, dead_table)


@pytest.fixture
def widths_loaded(switch, key_widths):
    return push(switch, key_widths)


def dmac_forward(names, mac, port):
    return update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": mac}, "forward", port=port))


def default_entry(names, table, action, **params):
    entry = names.entry(table, action=action, **params)
    entry.is_default_action = True
    return entry


def table_read(names, table, **fields):
    return Entity(table_entry=TableEntry(table_id=names.table_id(table), **fields))


def codes(c, *updates):
    return [code for code, _ in c.write_errors(*updates)]


# --- tables p4c removed from the JSON --------------------------------------------


def test_the_compiled_programs_disagree_as_the_tests_need(dead_table, key_widths):
    dead_json = json.loads(dead_table.json)
    json_tables = {t["name"] for p in dead_json["pipelines"] for t in p["tables"]}
    p4info_tables = {t.preamble.name for t in dead_table.p4info.tables}
    assert p4info_tables - json_tables == {"DeadIngress.by_src", "DeadIngress.untagged"}
    p4info_bits = {f.name: f.bitwidth for t in key_widths.p4info.tables
                   for f in t.match_fields}
    widths_json = json.loads(key_widths.json)
    json_bits = {}
    for header in widths_json["headers"]:
        fields = next(t["fields"] for t in widths_json["header_types"]
                      if t["name"] == header["header_type"])
        json_bits.update({(header["name"], f[0]): f[1] for f in fields})
    keys = {k["name"]: json_bits[tuple(k["target"])]
            for p in widths_json["pipelines"] for t in p["tables"] for k in t["key"]}
    for name, (in_p4info, in_json) in {"std.parser_error": (0, 32), "meta.seen": (0, 32),
                                       "meta.in_port": (32, 9), "meta.tag": (12, 16),
                                       "meta.nothing": (0, 0)}.items():
        assert (p4info_bits[name], keys[name]) == (in_p4info, in_json), name


def test_tables_removed_as_dead_code_load_and_the_live_ones_forward(switch, dead_loaded):
    c, names = dead_loaded
    c.write(dmac_forward(names, MAC_B, 4))
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame() == (4, ethernet(MAC_B))
    assert len(c.read(table_read(names, "dmac"))) == 1


def test_writes_to_a_removed_table_fail_as_on_bmv2(switch, dead_loaded):
    c, names = dead_loaded
    insert = update(Update.INSERT, table_entry=names.entry(
        "by_src", {"hdr.ethernet.src": MAC_A}, "retag", ether_type=0x1234))
    set_default = update(Update.MODIFY, table_entry=default_entry(
        names, "untagged", "retag", ether_type=0x1234))
    errors = c.write_errors(insert, set_default)
    assert [code for code, _ in errors] == [code_pb2.UNKNOWN, code_pb2.UNKNOWN]
    assert says(errors[0][1], "by_src", "device config has none")
    # nothing to modify or delete: NOT_FOUND, as PI finds no entry in its own store
    modify = update(Update.MODIFY, table_entry=names.entry(
        "by_src", {"hdr.ethernet.src": MAC_A}, "NoAction"))
    delete = update(Update.DELETE, table_entry=names.entry("by_src", {"hdr.ethernet.src": MAC_A}))
    assert codes(c, modify, delete) == [code_pb2.NOT_FOUND, code_pb2.NOT_FOUND]
    # the live table is unaffected in the same batch
    assert codes(c, dmac_forward(names, MAC_C, 2), insert) == [code_pb2.OK, code_pb2.UNKNOWN]
    switch.send(1, ethernet(MAC_C))
    assert switch.next_frame()[0] == 2


def with_counter_the_json_lacks(prog):
    """prog's P4Info with an indexed counter the JSON does not have (p4c keeps unused
    counters in the JSON; PI accepts a P4Info that names more)."""
    p4info = prog.p4info
    counter = p4info.counters.add(size=8)
    counter.preamble.id, counter.preamble.name = 0x12000001, "DeadIngress.gone"
    counter.spec.unit = counter.spec.PACKETS
    return p4info


def test_a_counter_the_json_lacks_loads_and_fails_as_on_bmv2(switch, dead_table):
    c = switch.controller()
    p4info = with_counter_the_json_lacks(dead_table)
    c.set_pipeline(p4info, dead_table.json)
    counter = p4runtime_pb2.CounterEntry(counter_id=0x12000001,
                                         index=p4runtime_pb2.Index(index=0))
    with pytest.raises(grpc.RpcError) as e:
        c.read(Entity(counter_entry=counter))
    assert e.value.code() == grpc.StatusCode.UNKNOWN
    counter.data.packet_count = 5
    assert codes(c, update(Update.MODIFY, counter_entry=counter)) == [code_pb2.UNKNOWN]
    c.write(dmac_forward(dead_table.names, MAC_B, 4))
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 4
    if not ON_BMV2:  # PI fails the wildcard read with UNKNOWN
        assert c.read(Entity(counter_entry=p4runtime_pb2.CounterEntry())) == []


@pytest.mark.embedded_only("PI fails these reads with UNKNOWN: BMv2 has no such table")
def test_reads_find_nothing_in_a_removed_table(switch, dead_loaded):
    c, names = dead_loaded
    c.write(dmac_forward(names, MAC_B, 4))
    assert c.read(table_read(names, "by_src")) == []
    every_entry = c.read(Entity(table_entry=TableEntry()))
    assert [e.table_entry.table_id for e in every_entry] == [names.table_id("dmac")]
    every_default = c.read(Entity(table_entry=TableEntry(is_default_action=True)))
    assert names.table_id("untagged") not in {e.table_entry.table_id for e in every_default}
    assert names.table_id("dmac") in {e.table_entry.table_id for e in every_default}
    with pytest.raises(grpc.RpcError) as e:
        c.read(table_read(names, "untagged", is_default_action=True))
    assert e.value.code() == grpc.StatusCode.UNKNOWN
    assert "device config has none" in e.value.details()


@pytest.mark.embedded_only("PI saves the state with a wildcard read: UNKNOWN on BMv2 here")
def test_reconcile_carries_state_over_a_pipeline_with_removed_tables(switch, dead_table,
                                                                   dead_loaded):
    c, names = dead_loaded
    c.write(dmac_forward(names, MAC_B, 6))
    c.set_pipeline(dead_table.p4info, dead_table.json, action=SetAction.RECONCILE_AND_COMMIT)
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 6


# --- match fields whose P4Info bitwidth is not the JSON's ---------------------------


def error_match(names, table, value: bytes, **others):
    """An entry whose `error` field is given as ``value`` (P4Info: 0 bits)."""
    entry = names.entry(table, others or None)
    field = next(f for f in names.table(table).match_fields if f.bitwidth == 0)
    entry.match.add(field_id=field.id).exact.value = value
    return entry


def test_tables_keyed_on_error_load_and_forward_by_their_default_entry(switch, widths_loaded):
    c, names = widths_loaded
    switch.send(3, ethernet(MAC_B))
    assert switch.next_frame() == (1, ethernet(MAC_B))  # default: forward(1)
    c.write(update(Update.MODIFY, table_entry=default_entry(
        names, "by_parser_error", "forward", port=2)))
    c.write(update(Update.MODIFY, table_entry=default_entry(
        names, "by_error_and_type", "set_src", src=MAC_C)))
    switch.send(3, ethernet(MAC_B))
    assert switch.next_frame() == (2, ethernet(MAC_B, src=MAC_C))
    defaults = c.read(table_read(names, "by_parser_error", is_default_action=True))
    assert defaults[0].table_entry.action.action.action_id == names.action_id("forward")


def test_no_entry_can_be_keyed_on_an_error_value(switch, widths_loaded):
    # PI checks the value against the P4Info's 0 bits (only zero fits) and hands
    # BMv2 a 0-byte key field where the JSON has 32 bits: BMv2 refuses the key.
    c, names = widths_loaded
    forward = names.action_msg("forward", port=5)
    inserts = []
    for value in (b"\x00", b"", b"\x00\x00\x00\x00", b"\x01"):
        entry = error_match(names, "by_parser_error", value)
        entry.action.action.CopyFrom(forward)
        inserts.append(update(Update.INSERT, table_entry=entry))
    mixed = error_match(names, "by_error_and_type", b"\x00", **{"hdr.ethernet.ether_type": 0x9999})
    mixed.action.action.CopyFrom(names.action_msg("set_src", src=MAC_C))
    inserts.append(update(Update.INSERT, table_entry=mixed))
    errors = c.write_errors(*inserts)
    assert [code for code, _ in errors] == [KEY_REFUSED, KEY_REFUSED, KEY_REFUSED,
                                            code_pb2.INVALID_ARGUMENT, KEY_REFUSED]
    assert says(errors[0][1], "parser_error", "0 bits in the P4Info", "32 in the device config")
    assert says(errors[3][1], "does not fit in 0 bits")
    assert c.read(table_read(names, "by_parser_error")) == []
    assert c.read(table_read(names, "by_error_and_type")) == []
    # and none reached the data plane
    switch.send(3, ethernet(MAC_B))
    assert switch.next_frame() == (1, ethernet(MAC_B))
    delete = error_match(names, "by_parser_error", b"\x00")
    assert codes(c, update(Update.DELETE, table_entry=delete)) == [code_pb2.NOT_FOUND]



def test_a_translated_key_wider_in_bytes_than_the_json_field_takes_no_entry(switch,
                                                                           widths_loaded):
    # P4Info: 32 bits (4 bytes), JSON: 9 bits (2 bytes); PI does not translate
    c, names = widths_loaded
    entry = names.entry("by_port", {"meta.in_port": 3}, "set_src", src=MAC_C)
    assert codes(c, update(Update.INSERT, table_entry=entry)) == [KEY_REFUSED]
    c.write(update(Update.MODIFY, table_entry=default_entry(
        names, "by_port", "set_src", src=MAC_C)))
    switch.send(3, ethernet(MAC_B))
    assert switch.next_frame() == (1, ethernet(MAC_B, src=MAC_C))


def test_a_translated_key_of_the_json_fields_bytes_works_at_the_p4info_width(switch,
                                                                            widths_loaded):
    # P4Info: 12 bits, JSON: 16, both 2 bytes: PI passes the value through untranslated
    c, names = widths_loaded
    entry = names.entry("by_tag", {"meta.tag": 0x0123}, "set_dst", dst=MAC_C)
    c.write(update(Update.INSERT, table_entry=entry))
    too_wide = names.entry("by_tag", None, "set_dst", dst=MAC_C)
    too_wide.match.add(field_id=entry.match[0].field_id).exact.value = b"\x12\x34"
    assert codes(c, update(Update.INSERT, table_entry=too_wide)) == [code_pb2.INVALID_ARGUMENT]
    switch.send(3, ethernet(MAC_B, ether_type=0x0123))
    assert switch.next_frame() == (1, ethernet(MAC_C, ether_type=0x0123))
    switch.send(3, ethernet(MAC_B, ether_type=0x0124))
    assert switch.next_frame() == (1, ethernet(MAC_B, ether_type=0x0124))
    [read] = c.read(table_read(names, "by_tag"))
    assert read.table_entry.match[0].exact.value == b"\x01\x23"


@pytest.mark.embedded_only("BMv2 1.15.5 aborts on the first entry with a 0-bit key field "
                            "(bytecontainer.h:180: Assertion `n < size()' failed)")
def test_bit0_keys_and_parameters_take_only_zero_and_packets_keep_bit0_fields(switch,
                                                                             widths_loaded):
    # 0 bits in the P4Info and in the JSON: PI hands BMv2 0-byte values, on which
    # simple_switch_grpc aborts; the embedded switch takes them (only the value 0)
    c, names = widths_loaded
    entry = names.entry("by_nothing", {"meta.nothing": 0, "hdr.ethernet.ether_type": 0x88B5},
                        "set_dst_and_nothing", dst=MAC_C, nothing=0)
    c.write(update(Update.INSERT, table_entry=entry))
    one = names.entry("by_nothing", {"hdr.ethernet.ether_type": 0x88B6},
                      "set_dst_and_nothing", dst=MAC_C, nothing=0)
    one.match.add(field_id=entry.match[0].field_id).exact.value = b"\x01"
    one_param = names.entry("by_nothing", {"meta.nothing": 0, "hdr.ethernet.ether_type": 0x88B7},
                            "set_dst_and_nothing", dst=MAC_C, nothing=0)
    one_param.action.action.params[1].value = b"\x01"
    assert codes(c, update(Update.INSERT, table_entry=one),
                 update(Update.INSERT, table_entry=one_param)) == [code_pb2.INVALID_ARGUMENT] * 2
    with_extra = ethernet(MAC_B, ether_type=0x88B5, payload=b"\x42rest")
    switch.send(3, with_extra)
    assert switch.next_frame() == (1, ethernet(MAC_C, ether_type=0x88B5, payload=b"\x42rest"))
    [read] = c.read(table_read(names, "by_nothing"))
    assert read.table_entry == entry
