"""What the switch tables must hold for a load-balancer configuration.

Pure functions from a `DataPlanePlan` (the configuration reduced to what the
data plane needs: ids, addresses, encaps, live ASs) to the table entries of
lb.p4, keyed so that two states can be diffed: an AS change then rewrites
only the Maglev buckets that moved. Flow entries (flow4/flow6) are not here:
they come from digests (flow_learner).

Entries come in groups (`entry_groups`): one per VIP (its buckets, encaps,
reverse NAT), one per VIP prefix (vip4/vip6 and vip_port), one for the
routes. A group's entries are a function of its source value alone, so a
command that changes one VIP costs what that VIP's entries cost, however
many VIPs there are (lb_dataplane compares sources before entries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from controller.maglev_table import NO_BACKEND, Backend, maglev_table
from controller.p4_schema import DecodedEntry

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# (table, key, priority): identifies an entry on the switch.
EntryId = tuple[str, tuple, int]

# Tables this module owns: everything but the learned flows.
CONFIG_TABLES = (
    "vip4", "vip6", "vip_port", "maglev", "as_encap", "reverse_nat4", "reverse_nat6",
    "route4", "route6",
)
PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17}


@dataclass(frozen=True)
class AsPlan:
    as_id: int
    address: IPAddress
    weight: int
    live: bool  # False while draining: keeps its encap, gets no buckets


@dataclass(frozen=True)
class VipPlan:
    vip_id: int
    prefix: IPNetwork
    protocol: int | None  # 6 or 17 for a per-port VIP, None for all ports
    port: int  # 0 = every port
    encap: str  # gre4 | gre6 | l3dsr | nat4 | nat6
    dscp: int
    target_port: int
    new_len: int
    src_ip_sticky: bool
    ases: tuple[AsPlan, ...]
    flush_epoch: int = 0  # lb.p4 set_vip: pending slots of older epochs are stale


@dataclass(frozen=True)
class RoutePlan:
    prefix: IPNetwork
    port: int
    src_mac: int
    dst_mac: int
    to_cpu: bool = False  # one of the controller's addresses: send_to_cpu (PacketIn)


@dataclass(frozen=True)
class DataPlanePlan:
    ip4_src: IPv4Address
    ip6_src: IPv6Address
    vips: tuple[VipPlan, ...]
    routes: tuple[RoutePlan, ...]
    # lb.p4 pending_conf's default action; 2 s is the program's own default.
    pending_lifetime_us: int = 2_000_000


def entry_id(e: DecodedEntry) -> EntryId:
    return (e.table, e.key, e.priority)


def _net_key(prefix: IPNetwork) -> tuple[int, int]:
    return (int(prefix.network_address), prefix.prefixlen)


def vip_entries(vips: Iterable[VipPlan]) -> list[DecodedEntry]:
    """vip4/vip6 (by prefix) and vip_port (by prefix id, protocol, port).

    A prefix whose VIPs are per-port gets a prefix id: the smallest VIP id
    among them, so it is derived from the configuration, not allocated.
    """
    by_prefix: dict[IPNetwork, list[VipPlan]] = {}
    for v in vips:
        by_prefix.setdefault(v.prefix, []).append(v)
    out = []
    for prefix, group in by_prefix.items():
        table = "vip4" if prefix.version == 4 else "vip6"
        all_port = [v for v in group if v.port == 0]
        if all_port:
            v = all_port[0]
            out.append(DecodedEntry(table, (_net_key(prefix),), "set_vip",
                                    (v.vip_id, v.new_len - 1, int(v.src_ip_sticky),
                                     v.flush_epoch)))
            continue
        prefix_id = min(v.vip_id for v in group)
        out.append(DecodedEntry(table, (_net_key(prefix),), "set_vip_prefix", (prefix_id,)))
        for v in group:
            out.append(DecodedEntry("vip_port", (prefix_id, v.protocol or 0, v.port), "set_vip",
                                    (v.vip_id, v.new_len - 1, int(v.src_ip_sticky),
                                     v.flush_epoch)))
    return out


def bucket_owners(vip: VipPlan) -> list[int | None]:
    """AS id per bucket of the VIP's new-flow table (None: no live AS)."""
    live = [a for a in vip.ases if a.live]
    table = maglev_table([Backend(a.address, a.weight) for a in live], vip.new_len)
    return [None if i == NO_BACKEND else live[i].as_id for i in table]


def maglev_entries(vip: VipPlan, owners: list[int | None]) -> list[DecodedEntry]:
    return [
        DecodedEntry("maglev", (vip.vip_id, bucket), "use_bucket_as", (as_id,))
        for bucket, as_id in enumerate(owners)
        if as_id is not None
    ]


def encap_entry(vip: VipPlan, a: AsPlan, gre_src: IPAddress | None) -> DecodedEntry:
    addr = int(a.address)
    if vip.encap in ("gre4", "gre6"):
        action, params = "encap_" + vip.encap, (int(gre_src or 0), addr)
    elif vip.encap == "l3dsr":
        action, params = "encap_l3dsr", (addr, vip.dscp)
    elif vip.encap == "nat4":
        action, params = "encap_nat4", (addr, vip.target_port)
    elif vip.encap == "nat6":
        action, params = "encap_nat6", (addr, vip.target_port)
    else:
        raise ValueError(f"unknown encap {vip.encap!r}")
    return DecodedEntry("as_encap", (a.as_id,), action, params)


def reverse_nat_entries(vip: VipPlan) -> list[DecodedEntry]:
    """AS:target_port → VIP:port for the answers of NAT VIPs' servers."""
    if vip.encap not in ("nat4", "nat6") or vip.protocol is None:
        return []
    table = "reverse_nat4" if vip.encap == "nat4" else "reverse_nat6"
    action = table + "_rewrite"
    vip_addr = int(vip.prefix.network_address)
    return [
        DecodedEntry(table, (int(a.address), vip.protocol, vip.target_port), action,
                     (vip_addr, vip.port))
        for a in vip.ases
    ]


def route_entries(routes: Iterable[RoutePlan]) -> list[DecodedEntry]:
    return [
        DecodedEntry("route4" if r.prefix.version == 4 else "route6", (_net_key(r.prefix),),
                     *(("send_to_cpu", ()) if r.to_cpu else
                       ("set_next_hop", (r.port, r.src_mac, r.dst_mac))))
        for r in routes
    ]


# --- groups ---------------------------------------------------------------------

GroupKey = tuple  # ("vip", vip_id) | ("prefix", prefix) | ("routes",)


@dataclass(frozen=True)
class VipGroup:
    """A VIP's buckets, AS encaps and reverse-NAT entries."""

    vip: VipPlan
    gre_src: IPAddress | None  # the outer source its GRE encaps carry


@dataclass(frozen=True)
class PrefixGroup:
    """The vip4/vip6 entry of a prefix and the vip_port entries under it."""

    vips: tuple[VipPlan, ...]  # without their ASs: these entries do not depend on them


@dataclass(frozen=True)
class RouteGroup:
    routes: tuple[RoutePlan, ...]


EntryGroup = VipGroup | PrefixGroup | RouteGroup


def entry_groups(plan: DataPlanePlan) -> dict[GroupKey, EntryGroup]:
    groups: dict[GroupKey, EntryGroup] = {}
    by_prefix: dict[IPNetwork, list[VipPlan]] = {}
    for v in plan.vips:
        src = plan.ip4_src if v.encap == "gre4" else plan.ip6_src if v.encap == "gre6" else None
        groups[("vip", v.vip_id)] = VipGroup(v, src)
        by_prefix.setdefault(v.prefix, []).append(replace(v, ases=()))
    for prefix, vips in by_prefix.items():
        groups[("prefix", prefix)] = PrefixGroup(tuple(vips))
    groups[("routes",)] = RouteGroup(plan.routes)
    return groups


def group_entries(
    group: EntryGroup, owners: Callable[[VipPlan], list[int | None]]
) -> list[DecodedEntry]:
    """The entries of one group; `owners` gives bucket_owners of a VIP (cached by the caller)."""
    if isinstance(group, VipGroup):
        vip = group.vip
        return (maglev_entries(vip, owners(vip))
                + [encap_entry(vip, a, group.gre_src) for a in vip.ases]
                + reverse_nat_entries(vip))
    if isinstance(group, PrefixGroup):
        return vip_entries(group.vips)
    return route_entries(group.routes)


def add_entries(
    out: dict[EntryId, DecodedEntry], entries: Iterable[DecodedEntry]
) -> dict[EntryId, DecodedEntry]:
    """Adds entries by id; two different entries under one id are a configuration bug."""
    for e in entries:
        eid = entry_id(e)
        if eid in out and out[eid] != e:
            raise ValueError(f"two configurations want {e.table} entry {e.key}")
        out[eid] = e
    return out


def merge_entries(
    out: dict[EntryId, DecodedEntry], entries: dict[EntryId, DecodedEntry]
) -> dict[EntryId, DecodedEntry]:
    """add_entries of a group's entries, already by id: a dict update where the
    ids are new (at C speed: a full sync merges every group, 10^5 entries)."""
    for eid in out.keys() & entries.keys():
        if out[eid] != entries[eid]:
            e = entries[eid]
            raise ValueError(f"two configurations want {e.table} entry {e.key}")
    out.update(entries)
    return out


def desired_entries(
    plan: DataPlanePlan, owners: dict[int, list[int | None]]
) -> dict[EntryId, DecodedEntry]:
    """Every config-table entry for `plan`; `owners` holds bucket_owners per VIP id."""
    out: dict[EntryId, DecodedEntry] = {}
    for group in entry_groups(plan).values():
        add_entries(out, group_entries(group, lambda v: owners[v.vip_id]))
    return out


@dataclass(frozen=True)
class TableDiff:
    inserts: list[DecodedEntry]
    modifies: list[DecodedEntry]
    deletes: list[DecodedEntry]

    def __len__(self) -> int:
        return len(self.inserts) + len(self.modifies) + len(self.deletes)


def diff_entries(
    installed: dict[EntryId, DecodedEntry], desired: dict[EntryId, DecodedEntry]
) -> TableDiff:
    inserts, modifies, deletes = [], [], []
    for eid, e in desired.items():
        old = installed.get(eid)
        if old is None:
            inserts.append(e)
        elif old != e:
            modifies.append(e)
    for eid, e in installed.items():
        if eid not in desired:
            deletes.append(e)
    return TableDiff(inserts, modifies, deletes)
