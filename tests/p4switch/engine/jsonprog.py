"""Hand-written BMv2 JSON programs in p4c's output format, for unit tests that must
run before (or without) p4c. Each helper returns plain dicts exactly as p4c emits
them; ``basic_program`` is an Ethernet/IPv4/TCP/UDP v1model program that tests
extend with their own actions, tables and controls.
"""

from __future__ import annotations

import copy

STANDARD_METADATA = [
    ["ingress_port", 9, False],
    ["egress_spec", 9, False],
    ["egress_port", 9, False],
    ["instance_type", 32, False],
    ["packet_length", 32, False],
    ["enq_timestamp", 32, False],
    ["enq_qdepth", 19, False],
    ["deq_timedelta", 32, False],
    ["deq_qdepth", 19, False],
    ["ingress_global_timestamp", 48, False],
    ["egress_global_timestamp", 48, False],
    ["mcast_grp", 16, False],
    ["egress_rid", 16, False],
    ["checksum_error", 1, False],
    ["parser_error", 32, False],
    ["priority", 3, False],
    ["_padding", 3, False],
]

ALIASES = [
    [f"{space}.{name}", ["standard_metadata", name]]
    for space, names in (
        ("queueing_metadata", ("enq_timestamp", "enq_qdepth", "deq_timedelta", "deq_qdepth")),
        (
            "intrinsic_metadata",
            ("ingress_global_timestamp", "egress_global_timestamp", "mcast_grp", "egress_rid",
             "priority"),
        ),
    )
    for name in names
]  # fmt: skip

ERRORS = [
    ["NoError", 0],
    ["PacketTooShort", 1],
    ["NoMatch", 2],
    ["StackOutOfBounds", 3],
    ["HeaderTooShort", 4],
    ["ParserTimeout", 5],
    ["ParserInvalidArgument", 6],
]


def field(h: str, f: str) -> dict:
    return {"type": "field", "value": [h, f]}


def hexstr(v: int) -> dict:
    return {"type": "hexstr", "value": hex(v)}


def rt(i: int) -> dict:
    return {"type": "runtime_data", "value": i}


def expr(op: str, left: object, right: object, **extra: object) -> dict:
    return {"type": "expression", "value": {"op": op, "left": left, "right": right, **extra}}


def prim(op: str, *params: dict) -> dict:
    return {"op": op, "parameters": list(params)}


def assign(dst: dict, src: dict) -> dict:
    return prim("assign", dst, src)


def masked_add(a: dict, b: dict, width: int) -> dict:
    """p4c's ``a + b`` on bit<width>: the sum masked to the width."""
    return expr("&", expr("+", a, b), hexstr((1 << width) - 1))


def action(aid: int, name: str, prims: list[dict], params: list[tuple[str, int]] = ()) -> dict:
    return {
        "name": name,
        "id": aid,
        "runtime_data": [{"name": n, "bitwidth": w} for n, w in params],
        "primitives": prims,
    }


def table(
    tid: int,
    name: str,
    keys: list[tuple[str, list | str, str | None]],
    actions: list[tuple[int, str]],
    next_node: str | None,
    default: tuple[int, list[int]] | None = None,
    match_type: str | None = None,
    **extra: object,
) -> dict:
    """keys: (match_type, target, mask); actions: (id, name)."""
    kinds = {k[0] for k in keys}
    if match_type is None:
        match_type = (
            "range"
            if "range" in kinds
            else "ternary"
            if kinds & {"ternary", "optional"}
            else "lpm"
            if "lpm" in kinds
            else "exact"
        )
    t = {
        "name": name,
        "id": tid,
        "key": [
            {
                "match_type": mt,
                "name": ".".join(tg) if isinstance(tg, list) else tg,
                "target": tg,
                "mask": mask,
            }
            for mt, tg, mask in keys
        ],  # fmt: skip
        "match_type": match_type,
        "type": "simple",
        "max_size": 64,
        "with_counters": False,
        "support_timeout": False,
        "direct_meters": None,
        "action_ids": [a[0] for a in actions],
        "actions": [a[1] for a in actions],
        "base_default_next": next_node,
        "next_tables": {a[1]: next_node for a in actions},
    }
    if default is not None:
        t["default_entry"] = {
            "action_id": default[0],
            "action_const": False,
            "action_data": [hex(x) for x in default[1]],
            "action_entry_const": False,
        }
    t.update(extra)
    return t


def pipeline(pid: int, name: str, init: str | None, tables: list[dict] = (),
             conditionals: list[dict] = (), action_profiles: list[dict] = ()) -> dict:  # fmt: skip
    return {
        "name": name,
        "id": pid,
        "init_table": init,
        "tables": list(tables),
        "action_profiles": list(action_profiles),
        "conditionals": list(conditionals),
    }


def ipv4_checksum_calc(name: str = "calc_ipv4") -> dict:
    names = ["version", "ihl", "diffserv", "totalLen", "identification", "flags", "fragOffset",
             "ttl", "protocol", "srcAddr", "dstAddr"]  # fmt: skip
    return {"name": name, "id": 0, "algo": "csum16", "input": [field("ipv4", n) for n in names]}


def basic_program() -> dict:
    """Ethernet -> IPv4 -> TCP/UDP parser, deparser in that order, empty controls.

    ``scalars`` holds user metadata: meta.a (32), meta.b (16), meta.c (8).
    """
    p = {
        "__meta__": {"version": [2, 23], "compiler": "hand-written test fixture"},
        "header_types": [
            {
                "name": "scalars_0",
                "id": 0,
                "fields": [["a", 32, False], ["b", 16, False], ["c", 8, False]],
            },
            {"name": "standard_metadata", "id": 1, "fields": STANDARD_METADATA},
            {
                "name": "ethernet_t",
                "id": 2,
                "fields": [
                    ["dstAddr", 48, False],
                    ["srcAddr", 48, False],
                    ["etherType", 16, False],
                ],
            },
            {
                "name": "ipv4_t",
                "id": 3,
                "fields": [
                    ["version", 4, False],
                    ["ihl", 4, False],
                    ["diffserv", 8, False],
                    ["totalLen", 16, False],
                    ["identification", 16, False],
                    ["flags", 3, False],
                    ["fragOffset", 13, False],
                    ["ttl", 8, False],
                    ["protocol", 8, False],
                    ["hdrChecksum", 16, False],
                    ["srcAddr", 32, False],
                    ["dstAddr", 32, False],
                ],
            },
            {
                "name": "tcp_t",
                "id": 4,
                "fields": [
                    ["srcPort", 16, False],
                    ["dstPort", 16, False],
                    ["seqNo", 32, False],
                    ["ackNo", 32, False],
                    ["dataOffset", 4, False],
                    ["res", 4, False],
                    ["flags", 8, False],
                    ["window", 16, False],
                    ["checksum", 16, False],
                    ["urgentPtr", 16, False],
                ],
            },
            {
                "name": "udp_t",
                "id": 5,
                "fields": [
                    ["srcPort", 16, False],
                    ["dstPort", 16, False],
                    ["length_", 16, False],
                    ["checksum", 16, False],
                ],
            },
        ],  # fmt: skip
        "headers": [
            {"name": "scalars", "id": 0, "header_type": "scalars_0", "metadata": True},
            {
                "name": "standard_metadata",
                "id": 1,
                "header_type": "standard_metadata",
                "metadata": True,
            },
            {"name": "ethernet", "id": 2, "header_type": "ethernet_t", "metadata": False},
            {"name": "ipv4", "id": 3, "header_type": "ipv4_t", "metadata": False},
            {"name": "tcp", "id": 4, "header_type": "tcp_t", "metadata": False},
            {"name": "udp", "id": 5, "header_type": "udp_t", "metadata": False},
        ],  # fmt: skip
        "header_stacks": [],
        "header_union_types": [],
        "header_unions": [],
        "header_union_stacks": [],
        "field_lists": [],
        "errors": ERRORS,
        "enums": [],
        "parsers": [
            {
                "name": "parser",
                "id": 0,
                "init_state": "start",
                "parse_states": [
                    {
                        "name": "start",
                        "id": 0,
                        "parser_ops": [
                            {
                                "op": "extract",
                                "parameters": [{"type": "regular", "value": "ethernet"}],
                            }
                        ],
                        "transition_key": [field("ethernet", "etherType")],
                        "transitions": [
                            {
                                "type": "hexstr",
                                "value": "0x0800",
                                "mask": None,
                                "next_state": "parse_ipv4",
                            },
                            {"type": "default", "value": None, "mask": None, "next_state": None},
                        ],
                    },
                    {
                        "name": "parse_ipv4",
                        "id": 1,
                        "parser_ops": [
                            {"op": "extract", "parameters": [{"type": "regular", "value": "ipv4"}]}
                        ],
                        "transition_key": [field("ipv4", "protocol")],
                        "transitions": [
                            {
                                "type": "hexstr",
                                "value": "0x06",
                                "mask": None,
                                "next_state": "parse_tcp",
                            },
                            {
                                "type": "hexstr",
                                "value": "0x11",
                                "mask": None,
                                "next_state": "parse_udp",
                            },
                            {"type": "default", "value": None, "mask": None, "next_state": None},
                        ],
                    },
                    {
                        "name": "parse_tcp",
                        "id": 2,
                        "parser_ops": [
                            {"op": "extract", "parameters": [{"type": "regular", "value": "tcp"}]}
                        ],
                        "transition_key": [],
                        "transitions": [
                            {"type": "default", "value": None, "mask": None, "next_state": None}
                        ],
                    },
                    {
                        "name": "parse_udp",
                        "id": 3,
                        "parser_ops": [
                            {"op": "extract", "parameters": [{"type": "regular", "value": "udp"}]}
                        ],
                        "transition_key": [],
                        "transitions": [
                            {"type": "default", "value": None, "mask": None, "next_state": None}
                        ],
                    },
                ],
            }
        ],  # fmt: skip
        "parse_vsets": [],
        "deparsers": [{"name": "deparser", "id": 0, "order": ["ethernet", "ipv4", "tcp", "udp"]}],
        "meter_arrays": [],
        "counter_arrays": [],
        "register_arrays": [],
        "calculations": [],
        "learn_lists": [],
        "actions": [],
        "pipelines": [pipeline(0, "ingress", None), pipeline(1, "egress", None)],
        "checksums": [],
        "force_arith": [],
        "extern_instances": [],
        "field_aliases": ALIASES,
    }
    return copy.deepcopy(p)
