"""Text of the ``show`` commands, VPP-like, as pure functions of their inputs.

Nothing here reads a switch: the caller passes the configuration and
whatever it measured (counter values, tracked flows), so the output is
testable and the same for every switch.

``show lb vips`` follows VPP's format_lb_vip / format_lb_vip_detailed: one
line per VIP (type, id, prefix, new_size, #as), and with ``verbose`` the
VIP's counters (VPP's four names) and one line per AS (address, weight,
buckets, flows, used|draining). A VIP or AS that was deleted but still has
flows shows as ``draining``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.cli_grammar import HELP
from controller.lb_config_document import to_commands
from controller.lb_model import LbConfig
from controller.lb_values import State, Vip

# VPP's names for the per-VIP counters (lb.h, lb_foreach_vip_counter), in order.
VIP_COUNTER_NAMES = (
    "packet from existing sessions",
    "first session packet",
    "untracked packet",
    "no server configured",
    "pending flow collision",  # ours: a new flow met another's live pending slot
)

DEFAULT_FLOW_LIMIT = 1000


@dataclass(frozen=True)
class VipCounters:
    """Packets of one VIP, as the data plane's per-VIP counters count them."""

    existing_session: int = 0
    first_session: int = 0
    untracked: int = 0
    no_server: int = 0
    pending_collision: int = 0

    def values(self) -> tuple[int, int, int, int, int]:
        return (self.existing_session, self.first_session, self.untracked, self.no_server,
                self.pending_collision)


@dataclass(frozen=True)
class FlowRow:
    """One tracked flow: its VIP id, a readable 5-tuple, the AS id it sticks to."""

    vip_id: int
    flow: str
    as_id: int


@dataclass(frozen=True)
class SwitchStatus:
    """One switch as the controller's session to it stands."""

    name: str
    connected: bool
    primary: bool
    role: str = ""  # "primary, election id 2", "backup, election id 1 (primary: ...)"


@dataclass(frozen=True)
class LbStatus:
    """What ``show lb`` reports besides the configuration, as the service measured it."""

    tracked_flows: int = 0
    drops: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # reason -> (bytes, pkts)
    flows_learned: int = 0
    flows_aged: int = 0
    install_failures: int = 0
    bad_messages: int = 0
    pending_collisions: int = 0  # new flows that met another flow's live pending slot
    switches: tuple[SwitchStatus, ...] = ()
    store: str = ""  # where the configuration lives, and its health
    health: list[dict] = field(default_factory=list)  # HealthChecker.status()
    health_events: list[dict] = field(default_factory=list)  # HealthChecker.event_list()


def render_show_lb(config: LbConfig, tracked_flows: int, status: LbStatus | None = None) -> str:
    """``show lb``: global settings and sizes (VPP's format_lb_main), then ``status``."""
    conf = config.conf
    lines = [
        f"lb_main ip4-src-address: {conf.ip4_src or 'not set'}",
        f" ip6-src-address: {conf.ip6_src or 'not set'}",
        f" #vips: {len(config.vips())}",
        f" #ass: {config.as_count()}",
        f" timeout: {conf.timeout}s",
        f" pending-timeout: {conf.pending_timeout_ms}ms",
        f" usage: {tracked_flows} flows / {conf.buckets} buckets",
    ]
    if status is not None:
        lines += [f" drops {reason}: {p}" for reason, (_b, p) in status.drops.items() if p]
        lines.append(f" pending-flow collisions: {status.pending_collisions}")
        lines.append(f" flows learned {status.flows_learned}, aged {status.flows_aged}, "
                     f"install failures {status.install_failures}, undecodable switch "
                     f"messages {status.bad_messages}")
        lines += [
            f" switch {s.name}: {s.role}" if s.role else
            f" switch {s.name}: {'connected' if s.connected else 'connecting'}"
            + (" (primary)" if s.primary else "")
            for s in status.switches
        ]
        if status.store:
            lines.append(f" configuration store: {status.store}")
        lines += _health_lines(status)
    return "\n".join(lines)


def _health_lines(status: LbStatus) -> list[str]:
    """The health checks, each AS's state since when and why, and the recent changes."""
    lines = []
    for check in status.health:
        c = check["check"]
        lines.append(
            f" health-check {check['vip']['key']}: tcp {c['address']} port {c['port']} from "
            f"{c['source']}, every {c['interval']:g}s, timeout {c['timeout']:g}s, rise "
            f"{c['rise']}, fall {c['fall']}, on_down {c['on_down']}, flap_window "
            f"{c['flap_window']}s")
        for a in check["ases"]:
            damped = (f", needs {a['rise_needed']} successes (damped)"
                      if a["state"] == "down" and a["rise_needed"] > c["rise"] else "")
            p = a["probes"]
            lines.append(
                f"    {a['address']} [{a['id']}] {a['state']} since {a['since']}: {a['reason']}"
                f"{damped}; probes ok {p['ok']}, refused {p['refused']}, timeout "
                f"{p['timeout']}")
    if status.health_events:
        lines.append(" health events:")
        lines += [f"    {e['time']} {e['vip']} {e['as']} {e['state']}: {e['reason']}"
                  for e in status.health_events[-10:]]
    return lines


def _vip_headline(vip: Vip) -> str:
    words = [f"{vip.vip_type} [{vip.vip_id}] {vip.prefix}"]
    if vip.protocol is not None:
        words.append(f"protocol:{vip.protocol} port:{vip.port}")
    if vip.dscp is not None:
        words.append(f"dscp:{vip.dscp}")
    if vip.srv_type is not None:
        words.append(f"type:{vip.srv_type} target_port:{vip.target_port}")
    if vip.src_ip_sticky:
        words.append("src_ip_sticky")
    return " ".join(words)


def _vip_state(vip: Vip) -> str:
    return f" draining ({vip.flows} flows)" if vip.state is State.DRAINING else ""


def render_vips(
    config: LbConfig,
    verbose: bool = False,
    counters: Mapping[int, VipCounters] | None = None,
    as_packets: Mapping[int, int] | None = None,
) -> str:
    """``show lb vips [verbose]``; ``counters`` by VIP id, ``as_packets`` by AS id.

    A VIP missing from ``counters`` (or ``counters=None``: the switch could not
    be read) shows "counters: not available" rather than zeros.
    """
    vips = config.vips()
    if not vips:
        return "no VIPs configured"
    lines = []
    for vip in vips:
        if not verbose:
            lines.append(
                f"{_vip_headline(vip)} new_size:{vip.new_len} #as:{len(vip.ases)}" + _vip_state(vip)
            )
            continue
        lines.append(_vip_headline(vip) + _vip_state(vip))
        lines.append(f"  new_size:{vip.new_len}")
        measured = None if counters is None else counters.get(vip.vip_id)
        if measured is None:
            lines.append("  counters: not available")
        else:
            lines.append("  counters:")
            for name, value in zip(VIP_COUNTER_NAMES, measured.values(), strict=True):
                lines.append(f"    {name}: {value}")
        lines.append(f"  #as:{len(vip.ases)}")
        lines += _as_lines(vip, as_packets)
    return "\n".join(lines)


def _as_lines(vip: Vip, as_packets: Mapping[int, int] | None) -> list[str]:
    """One aligned line per AS: address [id], weight, buckets, flows, state, packets."""
    buckets = vip.bucket_counts()
    rows = [
        (
            f"{a.address} [{a.as_id}]",
            f"weight {a.weight}",
            f"{buckets[a.address]} buckets",
            f"{a.flows} flows",
            str(a.state) + ("" if a.healthy else " (down)"),
            f"{as_packets[a.as_id]} packets"
            if as_packets is not None and a.as_id in as_packets
            else "",
        )
        for a in vip.sorted_ases()
    ]
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return [
        "    " + "  ".join(f"{cell:<{w}}" for cell, w in zip(r, widths + [0], strict=True)).rstrip()
        for r in rows
    ]


def render_flows(
    config: LbConfig, flows: Iterable[FlowRow], limit: int | None = DEFAULT_FLOW_LIMIT
) -> str:
    """``show lb flows``: one line per tracked flow, grouped by VIP, at most ``limit``."""
    rows = sorted(flows, key=lambda f: (f.vip_id, f.flow))
    if not rows:
        return "no tracked flows"
    shown = rows if limit is None else rows[:limit]
    table = []
    for f in shown:
        vip = config.vip_by_id(f.vip_id)
        found = config.as_by_id(f.as_id)
        vip_text = f"[{f.vip_id}] " + (str(vip.key) if vip else "(removed VIP)")
        as_text = (
            f"{found[1].address} [{f.as_id}] {found[1].state}"
            if found
            else f"[{f.as_id}] (removed AS)"
        )
        table.append((vip_text, f.flow, as_text))
    widths = [max(len(r[i]) for r in table + [("vip", "flow", "as")]) for i in range(2)]
    lines = [f"{'vip':<{widths[0]}}  {'flow':<{widths[1]}}  as"]
    lines += [f"{v:<{widths[0]}}  {fl:<{widths[1]}}  {a}" for v, fl, a in table]
    if len(shown) < len(rows):
        lines.append(
            f"(showing {len(shown)} of {len(rows)} flows; "
            "narrow it with 'show lb flows vip <prefix>')"
        )
    else:
        lines.append(f"{len(rows)} flows")
    return "\n".join(lines)


def render_routes(config: LbConfig) -> str:
    """``show ip route``."""
    routes = config.routes()
    if not routes:
        return "no routes configured"
    table = [
        (str(r.prefix), str(r.port), str(r.next_hop_mac), str(r.src_mac or "-")) for r in routes
    ]
    header = ("prefix", "port", "via", "src-mac")
    widths = [max(len(row[i]) for row in table + [header]) for i in range(3)]
    return "\n".join(
        f"{p:<{widths[0]}}  {port:<{widths[1]}}  {via:<{widths[2]}}  {src}".rstrip()
        for p, port, via, src in [header] + table
    )


def render_running_config(config: LbConfig) -> str:
    """``show running-config``: the commands that rebuild the configuration."""
    return "\n".join(to_commands(config))


def render_help() -> str:
    return HELP.rstrip("\n")
