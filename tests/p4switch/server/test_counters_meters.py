"""Direct and indexed counters and meters through P4Runtime."""

import pytest
from frames import MAC_B, MAC_C, ethernet
from p4rt_client import Update, says, update

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

Entity = p4runtime_pb2.Entity


def counter_id(names, name):
    return names._find(names.counters, name).preamble.id


def meter_id(names, name):
    return names._find(names.meters, name).preamble.id


def test_direct_counter_counts_the_entry_hits(loaded):
    switch, c, names = loaded
    entry = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)
    c.write(update(Update.INSERT, table_entry=entry))
    frame = ethernet(MAC_B)
    for _ in range(3):
        switch.send(1, frame)
        switch.next_frame()
    request = names.entry("dmac", {"hdr.ethernet.dst": MAC_B})
    request.counter_data.SetInParent()
    [back] = [e.table_entry for e in c.read(Entity(table_entry=request))]
    assert back.counter_data.packet_count == 3
    assert back.counter_data.byte_count == 3 * len(frame)
    direct = p4runtime_pb2.DirectCounterEntry(table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": MAC_B}))
    [read] = c.read(Entity(direct_counter_entry=direct))
    assert read.direct_counter_entry.data.packet_count == 3


def test_direct_counter_write_and_initial_value(loaded):
    _, c, names = loaded
    entry = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)
    entry.counter_data.packet_count = 100
    entry.counter_data.byte_count = 5000
    c.write(update(Update.INSERT, table_entry=entry))
    direct = p4runtime_pb2.DirectCounterEntry(
        table_entry=names.entry("dmac", {"hdr.ethernet.dst": MAC_B}))
    [read] = c.read(Entity(direct_counter_entry=direct))
    assert (read.direct_counter_entry.data.packet_count,
            read.direct_counter_entry.data.byte_count) == (100, 5000)
    direct.data.packet_count = 7
    direct.data.byte_count = 70
    c.write(update(Update.MODIFY, direct_counter_entry=direct))
    [read] = c.read(Entity(direct_counter_entry=p4runtime_pb2.DirectCounterEntry(
        table_entry=p4runtime_pb2.TableEntry(table_id=names.table_id("dmac")))))
    assert read.direct_counter_entry.data.packet_count == 7


@pytest.mark.embedded_only("PI: INVALID_ARGUMENT for an entry that does not exist")
def test_direct_counter_errors(loaded):
    _, c, names = loaded
    missing = p4runtime_pb2.DirectCounterEntry(
        table_entry=names.entry("dmac", {"hdr.ethernet.dst": MAC_C}))
    no_counter = p4runtime_pb2.DirectCounterEntry(
        table_entry=names.entry("route", {"hdr.ipv4.dst": (0x0A000000, 8)}))
    entry_with_data = names.entry("route", {"hdr.ipv4.dst": (0x0A000000, 8)}, "nop")
    entry_with_data.counter_data.packet_count = 1
    errors = c.write_errors(update(Update.MODIFY, direct_counter_entry=missing),
                            update(Update.MODIFY, direct_counter_entry=no_counter),
                            update(Update.INSERT, table_entry=entry_with_data))
    assert [code for code, _ in errors] == [
        code_pb2.NOT_FOUND, code_pb2.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT]


def test_indexed_counter_by_port(loaded):
    switch, c, names = loaded
    cid = counter_id(names, "port_counter")
    c.write(update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=3)))
    for port in (1, 2, 2):
        switch.send(port, ethernet(MAC_B))
        switch.next_frame()  # processed: the counters are up to date
    one = p4runtime_pb2.CounterEntry(counter_id=cid)
    one.index.index = 2
    [read] = c.read(Entity(counter_entry=one))
    assert read.counter_entry.data.packet_count == 2
    everything = c.read(Entity(counter_entry=p4runtime_pb2.CounterEntry(counter_id=cid)))
    assert len(everything) == 512
    assert everything[1].counter_entry.data.packet_count == 1
    one.data.packet_count, one.data.byte_count = 0, 0
    c.write(update(Update.MODIFY, counter_entry=one))
    [read] = c.read(Entity(counter_entry=p4runtime_pb2.CounterEntry(
        counter_id=cid, index=p4runtime_pb2.Index(index=2))))
    assert read.counter_entry.data.packet_count == 0


@pytest.mark.embedded_only("BMv2 answers UNKNOWN for an index out of range")
def test_indexed_counter_errors(loaded):
    _, c, names = loaded
    cid = counter_id(names, "port_counter")
    out_of_range = p4runtime_pb2.CounterEntry(counter_id=cid, index=p4runtime_pb2.Index(
        index=512))
    negative = p4runtime_pb2.CounterEntry(counter_id=cid, index=p4runtime_pb2.Index(index=-1))
    insert = p4runtime_pb2.CounterEntry(counter_id=cid, index=p4runtime_pb2.Index(index=1))
    unknown = p4runtime_pb2.CounterEntry(counter_id=0x12FFFFFF,
                                         index=p4runtime_pb2.Index(index=1))
    errors = c.write_errors(update(Update.MODIFY, counter_entry=out_of_range),
                            update(Update.MODIFY, counter_entry=negative),
                            update(Update.INSERT, counter_entry=insert),
                            update(Update.MODIFY, counter_entry=unknown))
    assert [code for code, _ in errors] == [code_pb2.INVALID_ARGUMENT] * 4
    assert "512" in errors[0][1]


def test_meter_config_write_read_reset(loaded):
    _, c, names = loaded
    mid = meter_id(names, "port_meter")
    entry = p4runtime_pb2.MeterEntry(meter_id=mid, index=p4runtime_pb2.Index(index=3))
    entry.config.cir, entry.config.cburst = 1000, 10
    entry.config.pir, entry.config.pburst = 2000, 20
    c.write(update(Update.MODIFY, meter_entry=entry))
    [read] = c.read(Entity(meter_entry=p4runtime_pb2.MeterEntry(
        meter_id=mid, index=p4runtime_pb2.Index(index=3))))
    got = read.meter_entry.config
    assert (got.cir, got.cburst, got.pir, got.pburst) == (1000, 10, 2000, 20)
    c.write(update(Update.MODIFY, meter_entry=p4runtime_pb2.MeterEntry(
        meter_id=mid, index=p4runtime_pb2.Index(index=3))))
    [read] = c.read(Entity(meter_entry=p4runtime_pb2.MeterEntry(
        meter_id=mid, index=p4runtime_pb2.Index(index=3))))
    assert not read.meter_entry.HasField("config")
    assert len(c.read(Entity(meter_entry=p4runtime_pb2.MeterEntry(meter_id=mid)))) == 16


@pytest.mark.embedded_only("BMv2 answers UNKNOWN for cir > pir")
def test_meter_errors(loaded):
    _, c, names = loaded
    mid = meter_id(names, "port_meter")
    negative = p4runtime_pb2.MeterEntry(meter_id=mid, index=p4runtime_pb2.Index(index=1))
    negative.config.cir = -5
    inverted = p4runtime_pb2.MeterEntry(meter_id=mid, index=p4runtime_pb2.Index(index=1))
    inverted.config.cir, inverted.config.pir = 10, 5
    insert = p4runtime_pb2.MeterEntry(meter_id=mid, index=p4runtime_pb2.Index(index=1))
    errors = c.write_errors(update(Update.MODIFY, meter_entry=negative),
                            update(Update.MODIFY, meter_entry=inverted),
                            update(Update.INSERT, meter_entry=insert))
    assert [code for code, _ in errors] == [code_pb2.INVALID_ARGUMENT] * 3
    assert "cir" in errors[0][1]


def test_direct_meter_on_an_entry(loaded):
    _, c, names = loaded
    entry = names.entry("metered", {"hdr.ethernet.src": MAC_B}, "metered_forward", port=2)
    entry.meter_config.cir, entry.meter_config.cburst = 100, 1500
    entry.meter_config.pir, entry.meter_config.pburst = 200, 3000
    c.write(update(Update.INSERT, table_entry=entry))
    request = names.entry("metered", {"hdr.ethernet.src": MAC_B})
    request.meter_config.SetInParent()
    [back] = [e.table_entry for e in c.read(Entity(table_entry=request))]
    assert back.meter_config == entry.meter_config
    direct = p4runtime_pb2.DirectMeterEntry(
        table_entry=names.entry("metered", {"hdr.ethernet.src": MAC_B}))
    direct.config.cir, direct.config.cburst = 1, 1
    direct.config.pir, direct.config.pburst = 2, 2
    c.write(update(Update.MODIFY, direct_meter_entry=direct))
    [read] = c.read(Entity(direct_meter_entry=p4runtime_pb2.DirectMeterEntry(
        table_entry=names.entry("metered", {"hdr.ethernet.src": MAC_B}))))
    assert read.direct_meter_entry.config == direct.config
    no_meter = names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=1)
    no_meter.meter_config.cir = 1
    [(code, message)] = c.write_errors(update(Update.INSERT, table_entry=no_meter))
    assert code == code_pb2.INVALID_ARGUMENT and says(message, "no direct meter")
