"""Checksums with payload, hash(), counters, meters, registers, digests and idle timeout."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

from p4switch.engine import EmbeddedSwitch, load_switch
from p4switch.engine.hashes import crc16, crc32, crc_ccitt, csum16, identity, xor16
from p4switch.runtime_api import (
    ActionCall,
    Digest,
    MatchError,
    MatchKeyParam,
    MatchKind,
    MeterRate,
    RuntimeApiError,
)

from .jsonprog import action, assign, basic_program, expr, field, hexstr, pipeline, prim, rt, table

SM = "standard_metadata"


def frame(proto: str = "tcp", payload: bytes = b"hello world", **ip) -> bytes:
    l4 = TCP(sport=1000, dport=80) if proto == "tcp" else UDP(sport=1000, dport=53)
    return raw(
        Ether(dst="00:00:00:00:00:02", src="00:00:00:00:00:01")
        / IP(src="10.0.0.1", dst="10.0.0.2", **ip)
        / l4
        / Raw(payload)
    )


def test_hash_algorithms_match_reference_values():
    assert crc16(b"123456789") == 0xBB3D  # CRC-16/ARC, BMv2's crc16
    assert crc32(b"123456789") == 0xCBF43926
    assert crc_ccitt(b"123456789") == 0x29B1
    assert csum16(b"\x45\x00\x00\x1c") == (~(0x4500 + 0x001C)) & 0xFFFF
    assert csum16(b"\x00\x00") == 0xFFFF
    assert csum16(b"\xff") == 0x00FF  # odd length pads with a zero byte
    assert xor16(b"\x12\x34\x56") == 0x1234 ^ 0x5600
    assert identity(b"\x01\x02") == 0x0102


def program_with(actions: list[dict], tables: list[dict], first: str, **extra) -> dict:
    p = basic_program()
    p["actions"] = actions
    p["pipelines"] = [pipeline(0, "ingress", first, tables), pipeline(1, "egress", None)]
    p.update(extra)
    return p


def keyless(tid: int, name: str, aid: int, aname: str, nxt: str | None = None) -> dict:
    """p4c's synthesized table for a direct action call in a control."""
    return table(tid, name, [], [(aid, aname)], nxt, default=(aid, []))


# --- checksums ---------------------------------------------------------------------------
def tcp_checksum_program() -> dict:
    """Rewrite tcp.dstPort, then update_checksum_with_payload over the pseudo-header."""
    calc = {
        "name": "calc_tcp",
        "id": 0,
        "algo": "csum16",
        "input": [
            field("ipv4", "srcAddr"),
            field("ipv4", "dstAddr"),
            {"type": "hexstr", "value": "0x00", "bitwidth": 8},
            field("ipv4", "protocol"),
            field("scalars", "b"),
            *[
                field("tcp", f)
                for f in (
                    "srcPort",
                    "dstPort",
                    "seqNo",
                    "ackNo",
                    "dataOffset",
                    "res",
                    "flags",
                    "window",
                )  # fmt: skip
            ],
            {"type": "hexstr", "value": "0x0000", "bitwidth": 16},
            field("tcp", "urgentPtr"),
            {"type": "payload", "value": None},
        ],
    }
    fwd = action(
        0,
        "fwd",
        [
            assign(field(SM, "egress_spec"), hexstr(2)),
            assign(field("tcp", "dstPort"), hexstr(8080)),
            # p4c computes the TCP length into metadata: totalLen - ihl*4
            assign(
                field("scalars", "b"),
                expr(
                    "&",
                    expr(
                        "-",
                        field("ipv4", "totalLen"),
                        expr("<<", expr("&", field("ipv4", "ihl"), hexstr(0xF)), hexstr(2)),
                    ),
                    hexstr(0xFFFF),
                ),
            ),
        ],
    )
    return program_with(
        [fwd],
        [keyless(0, "tbl_fwd", 0, "fwd")],
        "tbl_fwd",
        calculations=[calc],
        checksums=[
            {
                "name": "cksum_tcp",
                "id": 0,
                "target": ["tcp", "checksum"],
                "type": "generic",
                "calculation": "calc_tcp",
                "verify": False,
                "update": True,
                "if_cond": expr("d2b", None, field("tcp", "$valid$")),
            }
        ],
    )


def test_tcp_checksum_with_payload_is_recomputed():
    sw = load_switch(tcp_checksum_program(), None)
    out = sw.process_packet(1, frame(payload=b"odd-length payload!"))
    assert [p for p, _ in out] == [2]
    got = Ether(out[0][1])
    assert got[TCP].dport == 8080
    ref = got.copy()
    ref[TCP].chksum = None
    assert got[TCP].chksum == Ether(raw(ref))[TCP].chksum
    sw.close()


def test_verify_checksum_sets_checksum_error():
    p = program_with(
        [action(0, "copy_err", [assign(field(SM, "egress_spec"), field(SM, "checksum_error"))])],
        [keyless(0, "tbl", 0, "copy_err")],
        "tbl",
        calculations=[
            {
                "name": "c",
                "id": 0,
                "algo": "csum16",
                "input": [
                    field("ipv4", n)
                    for n in ("version", "ihl", "diffserv", "totalLen", "identification", "flags",
                              "fragOffset", "ttl", "protocol", "srcAddr", "dstAddr")  # fmt: skip
                ],
            }
        ],
        checksums=[
            {"name": "v", "id": 0, "target": ["ipv4", "hdrChecksum"], "type": "generic",
             "calculation": "c", "verify": True, "update": False,
             "if_cond": expr("d2b", None, field("ipv4", "$valid$"))}
        ],
    )  # fmt: skip
    sw = load_switch(p, None)
    good = frame()
    assert [port for port, _ in sw.process_packet(1, good)] == [0]
    bad = bytearray(good)
    bad[24] ^= 0xFF  # corrupt the IPv4 header checksum
    assert [port for port, _ in sw.process_packet(1, bytes(bad))] == [1]
    sw.close()


# --- hash() ---------------------------------------------------------------------------------
def hash_program(algo: str, fields: list[dict], base: int = 0, size: int = 1 << 16) -> dict:
    calc = {"name": "calc_h", "id": 0, "algo": algo, "input": fields}
    act = action(
        0,
        "do_hash",
        [
            prim(
                "modify_field_with_hash_based_offset",
                field("ipv4", "identification"),
                hexstr(base),
                {"type": "calculation", "value": "calc_h"},
                hexstr(size),
            ),
            assign(field(SM, "egress_spec"), hexstr(1)),
        ],
    )
    return program_with([act], [keyless(0, "tbl", 0, "do_hash")], "tbl", calculations=[calc])


def ident(out) -> int:
    return Ether(out[0][1])[IP].id


def test_hash_crc32_over_addresses_and_ports():
    fields = [field("ipv4", "srcAddr"), field("ipv4", "dstAddr"), field("tcp", "srcPort")]
    sw = load_switch(hash_program("crc32", fields, base=5, size=1000), None)
    data = bytes([10, 0, 0, 1, 10, 0, 0, 2]) + (1000).to_bytes(2, "big")
    assert ident(sw.process_packet(1, frame())) == 5 + crc32(data) % 1000
    # BMv2 skips fields of invalid headers: for UDP the tcp port is not hashed
    assert ident(sw.process_packet(1, frame("udp"))) == 5 + crc32(data[:8]) % 1000
    sw.close()


@pytest.mark.parametrize("algo", ["crc16", "csum16", "xor16", "identity", "crc32_custom"])
def test_hash_algorithms_in_the_pipeline(algo):
    # bit-level concatenation: a 4-bit and a 12-bit field make two bytes
    fields = [field("ipv4", "version"), field("ipv4", "ihl"), field("ipv4", "ttl"),
              field("ipv4", "flags"), field("ipv4", "fragOffset")]  # fmt: skip
    sw = load_switch(hash_program(algo, fields), None)
    data = bytes([0x45, 64, 0, 0])
    ref = {"crc16": crc16, "csum16": csum16, "xor16": xor16, "identity": identity,
           "crc32_custom": crc32}[algo]  # fmt: skip
    assert ident(sw.process_packet(1, frame(ttl=64))) == ref(data) % (1 << 16)
    sw.close()


# --- counters, meters, registers ---------------------------------------------------------------
def stateful_program() -> dict:
    acts = [
        action(
            0,
            "count_and_meter",
            [
                prim("count", {"type": "counter_array", "value": "ctr"}, rt(0)),
                prim(
                    "execute_meter",
                    {"type": "meter_array", "value": "mtr"},
                    rt(0),
                    field("ipv4", "diffserv"),
                ),
                prim(
                    "register_read",
                    field("ipv4", "identification"),
                    {"type": "register_array", "value": "reg"},
                    rt(0),
                ),
                prim(
                    "register_write",
                    {"type": "register_array", "value": "reg"},
                    rt(0),
                    field("ipv4", "ttl"),
                ),
                assign(field(SM, "egress_spec"), hexstr(1)),
            ],
            [("idx", 32)],
        ),
        action(1, "NoAction", []),
    ]
    t = table(
        0, "t_direct", [("exact", ["ipv4", "protocol"], None)], [(0, "count_and_meter"),
        (1, "NoAction")], None, default=(1, []), with_counters=True,
    )  # fmt: skip
    return program_with(
        acts,
        [t],
        "t_direct",
        counter_arrays=[
            {"name": "ctr", "id": 0, "size": 4, "is_direct": False},
            {"name": "t_direct_ctr", "id": 1, "is_direct": True, "binding": "t_direct"},
        ],
        meter_arrays=[
            {
                "name": "mtr",
                "id": 0,
                "size": 4,
                "is_direct": False,
                "rate_count": 2,
                "type": "packets",
            }
        ],  # fmt: skip
        register_arrays=[{"name": "reg", "id": 0, "size": 4, "bitwidth": 16}],
    )


@pytest.fixture
def stateful():
    sw = load_switch(stateful_program(), None)
    yield sw
    sw.close()


def test_counters_count_packets_and_ingress_bytes(stateful):
    sw = stateful
    h = sw.mt_add_entry("t_direct", [MatchKeyParam(MatchKind.EXACT, 6)],
                        ActionCall("count_and_meter", [2]))  # fmt: skip
    f = frame()
    sw.process_packet(1, f)
    sw.process_packet(1, f)
    assert sw.read_counters("ctr", 2) == (2 * len(f), 2)
    assert sw.read_counters("ctr", 0) == (0, 0)
    assert sw.mt_read_counters("t_direct", h) == (2 * len(f), 2)
    sw.write_counters("ctr", 2, 7, 1)
    assert sw.read_counters("ctr", 2) == (7, 1)
    sw.reset_counters("ctr")
    assert sw.read_counters("ctr", 2) == (0, 0)
    sw.mt_reset_counters("t_direct")
    assert sw.mt_read_counters("t_direct", h) == (0, 0)
    with pytest.raises(RuntimeApiError) as e:
        sw.read_counters("ctr", 4)
    assert e.value.code == MatchError.INVALID_INDEX
    with pytest.raises(RuntimeApiError) as e:
        sw.read_counters("t_direct_ctr", 0)  # direct counters are read through the table
    assert e.value.code == MatchError.INVALID_COUNTER_NAME


def test_meter_colors_green_yellow_red(stateful):
    sw = stateful
    sw.mt_add_entry("t_direct", [MatchKeyParam(MatchKind.EXACT, 6)],
                    ActionCall("count_and_meter", [1]))  # fmt: skip
    tiny = 1e-12  # tokens per microsecond: the buckets never refill during the test
    sw.meter_set_rates("mtr", 1, [MeterRate(tiny, 1), MeterRate(tiny, 2)])
    colors = [Ether(sw.process_packet(1, frame())[0][1])[IP].tos for _ in range(3)]
    assert colors == [0, 1, 2]
    assert sw.meter_get_rates("mtr", 1) == [MeterRate(tiny, 1), MeterRate(tiny, 2)]
    sw.meter_reset_rates("mtr", 1)
    assert Ether(sw.process_packet(1, frame())[0][1])[IP].tos == 0  # unconfigured: green
    with pytest.raises(RuntimeApiError) as e:
        sw.meter_set_rates("mtr", 1, [MeterRate(2.0, 1), MeterRate(1.0, 2)])
    assert e.value.code == MatchError.INVALID_METER_OPERATION


def test_registers_read_and_write_from_packets_and_api(stateful):
    sw = stateful
    sw.mt_add_entry("t_direct", [MatchKeyParam(MatchKind.EXACT, 6)],
                    ActionCall("count_and_meter", [3]))  # fmt: skip
    sw.register_write("reg", 3, 0xBEEF)
    out = sw.process_packet(1, frame(ttl=77))
    assert Ether(out[0][1])[IP].id == 0xBEEF
    assert sw.register_read("reg", 3) == 77
    assert sw.register_size("reg") == 4
    with pytest.raises(RuntimeApiError) as e:
        sw.register_write("reg", 0, 1 << 16)
    assert "16 bits" in e.value.detail
    with pytest.raises(RuntimeApiError) as e:
        sw.register_read("nope", 0)
    assert e.value.code == MatchError.INVALID_REGISTER_NAME


# --- digests ------------------------------------------------------------------------------------
def test_digest_carries_field_values_at_the_end_of_ingress():
    acts = [
        action(
            0,
            "learn",
            [
                prim("generate_digest", hexstr(0x400), hexstr(1)),
                # written after generate_digest: simple_switch samples after ingress
                assign(field("scalars", "a"), hexstr(0xCAFE)),
                assign(field(SM, "egress_spec"), hexstr(1)),
            ],
        )
    ]
    p = program_with(
        acts,
        [keyless(0, "tbl", 0, "learn")],
        "tbl",
        learn_lists=[
            {"id": 1, "name": "flow_digest_t", "elements": [
                field("ipv4", "srcAddr"), field(SM, "ingress_port"), field("scalars", "a")]}
        ],
    )  # fmt: skip
    sw = load_switch(p, None)
    got: list[Digest] = []
    sw.on_digest = got.append
    sw.process_packet(7, frame())
    assert got == [Digest("flow_digest_t", [0x0A000001, 7, 0xCAFE])]
    sw.close()


# --- idle timeout ---------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_idle_timeout_reports_then_repeats_every_other_sweep():
    p = program_with(
        [action(0, "fwd", [assign(field(SM, "egress_spec"), hexstr(1))]),
         action(1, "NoAction", [])],
        [table(0, "flows", [("exact", ["ipv4", "srcAddr"], None)], [(0, "fwd"), (1, "NoAction")],
               None, default=(1, []), support_timeout=True)],
        "flows",
    )  # fmt: skip
    clock = FakeClock()
    sw = EmbeddedSwitch(p, None, clock=clock, ageing_thread=False)
    notes: list[tuple[str, list[int]]] = []
    sw.on_idle_timeout = lambda t, hs: notes.append((t, hs))
    h = sw.mt_add_entry("flows", [MatchKeyParam(MatchKind.EXACT, 0x0A000001)], ActionCall("fwd"))
    h2 = sw.mt_add_entry("flows", [MatchKeyParam(MatchKind.EXACT, 0x0A000009)], ActionCall("fwd"))
    sw.mt_set_entry_ttl("flows", h, 2000)
    clock.t += 1.5
    sw.process_packet(1, frame())  # a hit refreshes h
    clock.t += 1.0
    sw.sweep()
    assert notes == []  # 1 s since the hit, TTL 2 s; h2 has no TTL and never ages
    assert sw.mt_get_entry("flows", h).time_since_last_hit_ms == 1000
    clock.t += 1.0
    sw.sweep()
    assert notes == [("flows", [h])]
    clock.t += 1.0
    sw.sweep()  # BMv2 skips an entry it reported in the previous sweep
    assert len(notes) == 1
    clock.t += 1.0
    sw.sweep()
    assert notes[-1] == ("flows", [h]) and len(notes) == 2
    sw.mt_delete_entry("flows", h)
    clock.t += 5
    sw.sweep()
    assert len(notes) == 2
    with pytest.raises(RuntimeApiError) as e:
        sw.mt_set_entry_ttl("flows", h, 10)
    assert e.value.code == MatchError.INVALID_HANDLE
    assert sw.mt_get_num_entries("flows") == 1 and h2 is not None
    sw.close()


# --- runaway programs ------------------------------------------------------------------------
def test_endless_recirculation_is_cut_and_counted():
    acts = [
        action(0, "fwd", [assign(field(SM, "egress_spec"), hexstr(1))]),
        action(1, "again", [prim("recirculate", hexstr(1))]),  # field list 1 (ids start at 1)
    ]
    p = basic_program()
    p["actions"] = acts
    p["field_lists"] = [{"id": 1, "name": "fl", "elements": []}]
    p["pipelines"] = [
        pipeline(0, "ingress", "t_in", [keyless(0, "t_in", 0, "fwd")]),
        pipeline(1, "egress", "t_eg", [keyless(1, "t_eg", 1, "again")]),
    ]
    sw = load_switch(p, None)
    assert sw.process_packet(1, frame()) == []
    stats = sw.stats()
    assert stats["faults"] == 1 and stats["dropped"] >= 1
    assert sw.process_packet(1, frame()) == []  # and the switch keeps going
    sw.close()
