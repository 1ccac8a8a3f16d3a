"""Pipelines whose P4Info and BMv2 JSON disagree the way p4c writes them: they load,
as on BMv2, and only what BMv2 refuses is refused (p4switch/p4runtime/config_agreement.py).

srv_dead_table: tables and a counter p4c removed from the JSON as dead code.
srv_error_key: match fields of type `error` (P4Info: no bitwidth, JSON: 32 bits).
"""

import json

import grpc
import pytest
from frames import MAC_A, MAC_B, MAC_C, ethernet
from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2
from p4rt_client import ON_BMV2, SetAction, Update, says, update
from switch_harness import program

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
def error_key():
    return program("srv_error_key")


def push(switch, prog):
    """The switch's primary controller, with ``prog`` pushed, and the P4Info names."""
    c = switch.controller()
    c.set_pipeline(prog.p4info, prog.json)
    return c, prog.names


@pytest.fixture
def dead_loaded(switch, dead_table):
    return push(switch, dead_table)


@pytest.fixture
def error_loaded(switch, error_key):
    return push(switch, error_key)


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


def test_the_compiled_programs_disagree_as_the_tests_need(dead_table, error_key):
    program = json.loads(dead_table.json)
    json_tables = {t["name"] for p in program["pipelines"] for t in p["tables"]}
    p4info_tables = {t.preamble.name for t in dead_table.p4info.tables}
    assert p4info_tables - json_tables == {"DeadIngress.by_src", "DeadIngress.untagged"}
    assert "DeadIngress.dead_hits" not in {c["name"] for c in program["counter_arrays"]}
    assert [c.preamble.name for c in dead_table.p4info.counters] == ["DeadIngress.dead_hits"]
    fields = {f.name: f.bitwidth for t in error_key.p4info.tables for f in t.match_fields}
    assert fields["std.parser_error"] == 0 and fields["meta.seen"] == 0


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


def test_a_removed_counter_fails_as_on_bmv2(dead_table, dead_loaded):
    c, names = dead_loaded
    counter = p4runtime_pb2.CounterEntry(counter_id=dead_table.p4info.counters[0].preamble.id,
                                         index=p4runtime_pb2.Index(index=0))
    with pytest.raises(grpc.RpcError) as e:
        c.read(Entity(counter_entry=counter))
    assert e.value.code() == grpc.StatusCode.UNKNOWN
    counter.data.packet_count = 5
    assert codes(c, update(Update.MODIFY, counter_entry=counter)) == [code_pb2.UNKNOWN]


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
    assert c.read(Entity(counter_entry=p4runtime_pb2.CounterEntry())) == []
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


# --- match keys of type error ------------------------------------------------------


def error_match(names, table, value: bytes, **others):
    """An entry whose `error` field is given as ``value`` (P4Info: 0 bits)."""
    entry = names.entry(table, others or None)
    field = next(f for f in names.table(table).match_fields if f.bitwidth == 0)
    entry.match.add(field_id=field.id).exact.value = value
    return entry


def test_tables_keyed_on_error_load_and_forward_by_their_default_entry(switch, error_loaded):
    c, names = error_loaded
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


def test_no_entry_can_be_keyed_on_an_error_value(switch, error_loaded):
    # PI checks the value against the P4Info's 0 bits (only zero fits) and hands
    # BMv2 a 0-byte key field where the JSON has 32 bits: BMv2 refuses the key.
    c, names = error_loaded
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

