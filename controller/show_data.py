"""The ``show`` commands as structured data: what ``--json`` answers.

Each function takes the same inputs as its text twin in
:mod:`controller.show_format` and returns plain JSON types (dicts, lists,
strings, numbers, booleans, None), so programs read the load balancer's
state without parsing text. Addresses and prefixes are strings; counters
are ``{"packets": n, "bytes": n}``; a value the switch could not give is
None, never 0.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from controller.cli_grammar import HELP
from controller.flow_learner import PROTOCOL_NAMES, FlowKey
from controller.lb_config_document import to_commands
from controller.lb_model import LbConfig
from controller.lb_values import As, Vip
from controller.show_format import LbStatus

# lb.p4's per-VIP counters (VPP's four, in VPP's order, then ours) and their JSON keys.
VIP_COUNTER_KEYS = {
    "vip_existing_session": "existing_session",
    "vip_first_session": "first_session",
    "vip_untracked": "untracked",
    "vip_no_server": "no_server",
    "vip_pending_collision": "pending_collision",
}

# name -> index -> (bytes, packets), as LbDataPlane.read_counters returns them.
CounterReading = Mapping[str, Mapping[int, tuple[int, int]]]


def counter_value(cell: tuple[int, int] | None) -> dict[str, int]:
    b, p = cell or (0, 0)
    return {"packets": p, "bytes": b}


def show_lb_data(config: LbConfig, status: LbStatus) -> dict[str, Any]:
    conf = config.conf
    return {
        "ip4_src_address": _text(conf.ip4_src),
        "ip6_src_address": _text(conf.ip6_src),
        "vips": len(config.vips()),
        "ases": config.as_count(),
        "timeout": conf.timeout,
        "pending_timeout_ms": conf.pending_timeout_ms,
        "buckets": conf.buckets,
        "tracked_flows": status.tracked_flows,
        "drops": {reason: counter_value(cell) for reason, cell in status.drops.items()},
        "flows_learned": status.flows_learned,
        "flows_aged": status.flows_aged,
        "install_failures": status.install_failures,
        "undecodable_switch_messages": status.bad_messages,
        "pending_collisions": status.pending_collisions,
        "switches": [
            {"switch": s.name, "connected": s.connected, "primary": s.primary, "role": s.role}
            for s in status.switches
        ],
        "configuration_store": status.store,
        "health": status.health,
        "health_events": status.health_events,
    }


def vip_data(vip: Vip) -> dict[str, Any]:
    """A VIP's identity and settings."""
    return {
        "id": vip.vip_id,
        "type": vip.vip_type,
        "prefix": str(vip.prefix),
        "protocol": _text(vip.protocol),
        "port": vip.port,
        "encap": str(vip.encap),
        "dscp": vip.dscp,
        "srv_type": _text(vip.srv_type),
        "target_port": vip.target_port,
        "new_len": vip.new_len,
        "src_ip_sticky": vip.src_ip_sticky,
        "state": str(vip.state),
        "flows": vip.flows,
        "health_check": vip.health is not None,
    }


def as_data(a: As, buckets: int) -> dict[str, Any]:
    return {
        "address": str(a.address),
        "id": a.as_id,
        "weight": a.weight,
        "buckets": buckets,
        "flows": a.flows,
        "state": str(a.state),
        "healthy": a.healthy,
    }


def vips_data(
    config: LbConfig, verbose: bool = False, counters: CounterReading | None = None
) -> dict[str, Any]:
    """``show lb vips [verbose]``; with ``verbose``, ``counters`` (None: not readable)."""
    out = []
    for vip in config.vips():
        entry = vip_data(vip)
        buckets = vip.bucket_counts()
        ases = [as_data(a, buckets[a.address]) for a in vip.sorted_ases()]
        if verbose:
            entry["counters"] = None if counters is None else {
                key: counter_value(counters.get(name, {}).get(vip.vip_id))
                for name, key in VIP_COUNTER_KEYS.items()
            }  # fmt: skip
            for a, row in zip(vip.sorted_ases(), ases, strict=True):
                row["counters"] = None if counters is None else counter_value(
                    counters.get("as_packets", {}).get(a.as_id))
        entry["ases"] = ases
        out.append(entry)
    return {"vips": out}


def flows_data(
    config: LbConfig, flows: Iterable[tuple[FlowKey, int]], limit: int | None = None
) -> dict[str, Any]:
    """``show lb flows``: every tracked flow (at most ``limit``), and how many there are."""
    rows = sorted(flows, key=lambda f: (f[0].vip_id, f[0].describe()))
    shown = rows if limit is None else rows[:limit]
    out = []
    for key, as_id in shown:
        addr = ipaddress.IPv4Address if key.family == 4 else ipaddress.IPv6Address
        vip = config.vip_by_id(key.vip_id)
        found = config.as_by_id(as_id)
        out.append({
            "vip_id": key.vip_id,
            "vip": str(vip.key) if vip else None,
            "protocol": PROTOCOL_NAMES.get(key.protocol, str(key.protocol)),
            "src": str(addr(key.src)),
            "src_port": key.src_port,
            "dst": str(addr(key.dst)),
            "dst_port": key.dst_port,
            "as_id": as_id,
            "as": str(found[1].address) if found else None,
            "as_state": str(found[1].state) if found else "removed",
        })  # fmt: skip
    return {"flows": out, "total": len(rows)}


def routes_data(config: LbConfig) -> dict[str, Any]:
    return {
        "routes": [
            {"prefix": str(r.prefix), "port": r.port, "via": str(r.next_hop_mac),
             "src_mac": _text(r.src_mac)}
            for r in config.routes()
        ]
    }  # fmt: skip


def running_config_data(config: LbConfig) -> dict[str, Any]:
    return {"commands": to_commands(config)}


def help_data() -> dict[str, Any]:
    return {"commands": [line for line in HELP.splitlines() if line.strip()]}


def _text(value: object) -> str | None:
    return None if value is None else str(value)
