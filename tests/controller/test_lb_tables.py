"""Translation of a configuration into lb.p4 table entries, and minimal diffs."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest

from controller.lb_tables import (
    AsPlan,
    DataPlanePlan,
    RoutePlan,
    VipPlan,
    bucket_owners,
    desired_entries,
    diff_entries,
    entry_groups,
    entry_id,
    group_entries,
    merge_entries,
)
from controller.p4_schema import DecodedEntry

SRC4 = IPv4Address("192.0.2.1")
SRC6 = IPv6Address("2001:db8::1")


def vip(vip_id=1, prefix="10.0.0.1/32", encap="gre4", ases=(), port=0, protocol=None,
        new_len=64, target_port=0, dscp=0, sticky=False) -> VipPlan:
    return VipPlan(vip_id, ip_network(prefix), protocol, port, encap, dscp, target_port, new_len,
                   sticky, tuple(ases))


def servers(*addrs: str, first_id: int = 1, live: bool = True) -> list[AsPlan]:
    return [AsPlan(first_id + i, ip_address(a), 100, live) for i, a in enumerate(addrs)]


def plan(*vips: VipPlan, routes=()) -> DataPlanePlan:
    return DataPlanePlan(SRC4, SRC6, tuple(vips), tuple(routes))


def entries(p: DataPlanePlan):
    return desired_entries(p, {v.vip_id: bucket_owners(v) for v in p.vips})


def by_table(d, table):
    return [e for e in d.values() if e.table == table]


def test_all_port_vip_gets_lpm_entry_buckets_and_encap() -> None:
    v = vip(ases=servers("10.1.0.1", "10.1.0.2"))
    d = entries(plan(v))
    (vip4,) = by_table(d, "vip4")
    assert vip4.key == ((int(IPv4Address("10.0.0.1")), 32),)
    assert vip4.action == "set_vip" and vip4.params == (1, 63, 0, 0)
    assert len(by_table(d, "maglev")) == 64
    encaps = sorted(by_table(d, "as_encap"), key=lambda e: e.key)
    assert [e.params for e in encaps] == [
        (int(SRC4), int(IPv4Address("10.1.0.1"))), (int(SRC4), int(IPv4Address("10.1.0.2")))
    ]


def test_per_port_vips_share_a_prefix_id() -> None:
    a = vip(vip_id=3, port=80, protocol=6, encap="nat4", target_port=8080,
            ases=servers("10.1.0.1"))
    b = vip(vip_id=5, port=53, protocol=17, encap="nat4", target_port=5353,
            ases=servers("10.1.0.9", first_id=7))
    d = entries(plan(a, b))
    (vip4,) = by_table(d, "vip4")
    assert vip4.action == "set_vip_prefix" and vip4.params == (3,)
    assert sorted(e.key for e in by_table(d, "vip_port")) == [(3, 6, 80), (3, 17, 53)]
    rnat = sorted(by_table(d, "reverse_nat4"), key=lambda e: e.key)
    assert rnat[0].key == (int(IPv4Address("10.1.0.1")), 6, 8080)
    assert rnat[0].params == (int(IPv4Address("10.0.0.1")), 80)


def test_draining_as_keeps_encap_but_no_buckets() -> None:
    live = servers("10.1.0.1")
    draining = [AsPlan(2, ip_address("10.1.0.2"), 100, False)]
    d = entries(plan(vip(ases=live + draining)))
    assert {e.params[0] for e in by_table(d, "maglev")} == {1}
    assert {e.key for e in by_table(d, "as_encap")} == {(1,), (2,)}


def test_vip_without_live_as_has_no_buckets() -> None:
    d = entries(plan(vip(ases=servers("10.1.0.1", live=False))))
    assert by_table(d, "maglev") == []
    assert len(by_table(d, "vip4")) == 1


def test_adding_an_as_modifies_only_moved_buckets() -> None:
    before = plan(vip(new_len=1024, ases=servers(*[f"10.1.0.{i}" for i in range(1, 10)])))
    after = plan(vip(new_len=1024, ases=servers(*[f"10.1.0.{i}" for i in range(1, 11)])))
    old, new = entries(before), entries(after)
    diff = diff_entries(old, new)
    assert [e.table for e in diff.inserts] == ["as_encap"]
    assert diff.deletes == []
    assert all(e.table == "maglev" for e in diff.modifies)
    # The new AS takes its share (1024/10); the few other buckets that move
    # between old ASs stay under the bound maglev_table documents (4 %).
    to_new = [e for e in diff.modifies if e.params == (10,)]
    assert 102 <= len(to_new) <= 103
    assert len(diff.modifies) - len(to_new) <= 0.04 * 1024


def test_same_state_is_an_empty_diff_and_removal_deletes_everything() -> None:
    p = plan(vip(ases=servers("10.1.0.1")),
             routes=[RoutePlan(ip_network("10.1.0.0/24"), 2, 0x02, 0x04)])
    d = entries(p)
    assert len(diff_entries(d, d)) == 0
    gone = diff_entries(d, entries(plan()))
    assert len(gone.deletes) == len(d) and not gone.inserts and not gone.modifies


def test_conf_source_address_change_rewrites_gre_entries() -> None:
    p = plan(vip(ases=servers("10.1.0.1", "10.1.0.2")))
    p2 = replace(p, ip4_src=IPv4Address("192.0.2.99"))
    diff = diff_entries(entries(p), entries(p2))
    assert {e.table for e in diff.modifies} == {"as_encap"} and len(diff.modifies) == 2


@pytest.mark.parametrize(
    "encap,addr,action",
    [("gre6", "2001:db8::10", "encap_gre6"), ("l3dsr", "10.1.0.1", "encap_l3dsr"),
     ("nat6", "2001:db8::10", "encap_nat6")],
)
def test_each_encap_has_its_action(encap: str, addr: str, action: str) -> None:
    prefix = "2001:db8:f::1/128" if encap == "nat6" else "10.0.0.1/32"
    v = vip(prefix=prefix, encap=encap, ases=servers(addr), dscp=10, port=80 if "nat" in encap
            else 0, protocol=6 if "nat" in encap else None, target_port=8080)
    (e,) = by_table(entries(plan(v)), "as_encap")
    assert e.action == action


def test_groups_partition_the_entries_and_an_as_change_touches_one_group() -> None:
    a = vip(vip_id=1, ases=servers("10.1.0.1", "10.1.0.2"))
    b = vip(vip_id=2, prefix="10.0.0.2/32", encap="nat4", port=80, protocol=6, target_port=8080,
            ases=servers("10.1.1.1", first_id=10))
    p = plan(a, b, routes=[RoutePlan(ip_network("10.1.0.0/16"), 1, 2, 3)])
    groups = entry_groups(p)
    union = {}
    for g in groups.values():
        for e in group_entries(g, bucket_owners):
            assert (e.table, e.key) not in union, "an entry in two groups"
            union[(e.table, e.key)] = e
    assert sorted(union.values(), key=repr) == sorted(entries(p).values(), key=repr)

    grown = plan(replace(a, ases=a.ases + tuple(servers("10.1.0.3", first_id=3))), b,
                 routes=p.routes)
    changed = {k for k, g in entry_groups(grown).items() if groups.get(k) != g}
    assert changed == {("vip", 1)}
    moved_src = DataPlanePlan(IPv4Address("192.0.2.9"), SRC6, p.vips, p.routes)
    changed = {k for k, g in entry_groups(moved_src).items() if groups.get(k) != g}
    assert changed == {("vip", 1)}  # the gre4 VIP's encaps; the NAT VIP has no GRE source


def test_merging_groups_takes_shared_equal_entries_and_refuses_conflicting_ones() -> None:
    route = DecodedEntry("route4", ((0x0A000000, 8),), "set_next_hop", (1, 2, 3))
    other = DecodedEntry("as_encap", (5,), "encap_nat4", (1, 2))
    merged = merge_entries({entry_id(route): route}, {entry_id(route): route,
                                                      entry_id(other): other})
    assert merged == {entry_id(route): route, entry_id(other): other}
    moved = route._replace(params=(9, 2, 3))
    with pytest.raises(ValueError, match="two configurations want route4"):
        merge_entries(merged, {entry_id(moved): moved})
    assert merged[entry_id(route)] == route  # left as it was
