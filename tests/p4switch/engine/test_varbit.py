"""IPv4 options as a varbit header: extract_VL with a length from a lookahead,
the deparser, and a checksum calculation over the varbit (hand-written JSON)."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw, raw

from p4switch.engine import load_switch

from .jsonprog import action as mk_action
from .jsonprog import assign, basic_program, expr, field, hexstr, ipv4_checksum_calc, pipeline
from .jsonprog import table as mk_table


def varbit_program() -> dict:
    p = basic_program()
    ipv4_t = p["header_types"][3]
    ipv4_t["fields"].append(["options", "*"])
    ipv4_t["max_length"] = 60
    state = p["parsers"][0]["parse_states"][1]
    ihl = expr("&", {"type": "lookahead", "value": [4, 4]}, hexstr(0xF))
    length = expr("<<", expr("-", ihl, hexstr(5)), hexstr(5))  # (ihl - 5) * 32
    state["parser_ops"] = [
        {"op": "extract_VL", "parameters": [
            {"type": "regular", "value": "ipv4"}, {"type": "expression", "value": length}]}
    ]  # fmt: skip
    calc = ipv4_checksum_calc()
    calc["input"].append(field("ipv4", "options"))
    p["calculations"] = [calc]
    p["checksums"] = [
        {"name": "ck", "id": 0, "target": ["ipv4", "hdrChecksum"], "type": "generic",
         "calculation": "calc_ipv4", "verify": False, "update": True,
         "if_cond": expr("d2b", None, field("ipv4", "$valid$"))}
    ]  # fmt: skip
    p["actions"] = [
        mk_action(0, "fwd", [
            assign(field("standard_metadata", "egress_spec"), hexstr(1)),
            assign(field("ipv4", "ttl"), hexstr(9))]),
    ]  # fmt: skip
    p["pipelines"] = [
        pipeline(0, "ingress", "t", [mk_table(0, "t", [], [(0, "fwd")], None, default=(0, []))]),
        pipeline(1, "egress", None),
    ]
    return p


@pytest.mark.parametrize("options", [b"", b"\x01" * 4, b"\x07\x07\x04\x00" * 10])
def test_options_round_trip_and_count_in_the_checksum(options):
    sw = load_switch(varbit_program(), None)
    f = raw(Ether() / IP(src="1.2.3.4", dst="5.6.7.8", options=options) / TCP() / Raw(b"pl"))
    ((port, data),) = sw.process_packet(3, f)
    got = Ether(data)
    assert port == 1 and got[IP].ttl == 9 and data[34 : 34 + len(options)] == options
    assert raw(got[TCP]) == raw(Ether(f)[TCP])
    ref = got.copy()
    ref[IP].chksum = None
    assert got[IP].chksum == Ether(raw(ref))[IP].chksum
    sw.close()


def test_options_longer_than_the_packet_are_packet_too_short():
    sw = load_switch(varbit_program(), None)
    f = raw(Ether() / IP(options=b"\x01" * 8) / TCP())[: 14 + 24]
    assert sw.process_packet(3, f) == [(1, f)]  # ipv4 not extracted; stays payload
    assert sw.stats()["parser_errors"] == 1
    sw.close()
