"""The configuration model: VPP's rules, its mistakes corrected, ids and draining."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from controller.lb_model import (
    Conflict,
    Encap,
    FamilyMismatch,
    InvalidValue,
    LbConfig,
    LbConfigError,
    NotFound,
    State,
    make_vip_key,
)


@pytest.fixture
def config() -> LbConfig:
    return LbConfig()


def key(prefix: str, protocol: str | None = None, port: int = 0):
    return make_vip_key(prefix, protocol, port)


# ----------------------------------------------------------------- lb conf


def test_conf_defaults_match_vpp(config):
    assert config.conf.buckets == 1024
    assert config.conf.timeout == 40
    assert config.conf.ip4_src is None and config.conf.ip6_src is None


def test_conf_changes_only_what_is_given(config):
    config.set_conf(ip4_src="192.0.2.1", timeout=60)
    config.set_conf(buckets=4096)
    assert str(config.conf.ip4_src) == "192.0.2.1"
    assert (config.conf.timeout, config.conf.buckets) == (60, 4096)
    config.set_conf(ip6_src="2001:db8::1")
    assert str(config.conf.ip6_src) == "2001:db8::1" and config.conf.timeout == 60


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"buckets": 0}, "buckets 0 is not a power of two"),
        ({"buckets": 1000}, "buckets 1000 is not a power of two"),
        ({"buckets": 1 << 32}, "buckets 4294967296 is larger than 2147483648"),
        ({"timeout": 0}, "timeout 0 is out of range 1-4294967295"),
        ({"timeout": -5}, "timeout -5 is out of range"),
        ({"ip4_src": "2001:db8::1"}, "ip4-src-address 2001:db8::1 is not an IPv4 address"),
        ({"ip6_src": "192.0.2.1"}, "ip6-src-address 192.0.2.1 is not an IPv6 address"),
        ({"ip4_src": "192.0.2.300"}, "ip4-src-address '192.0.2.300' is not an IPv4 or IPv6"),
    ],
)
def test_conf_refuses_bad_values_by_name_and_changes_nothing(config, kwargs, message):
    with pytest.raises(LbConfigError, match=message):
        config.set_conf(**{"buckets": 2048, **kwargs})
    assert config.conf.buckets == 1024


# ------------------------------------------------------------------ lb vip


def test_vip_defaults(config):
    vip = config.add_vip("10.0.0.1/32")
    assert (vip.encap, vip.new_len, vip.vip_type, vip.vip_id) == (Encap.GRE4, 1024, "ip4-gre4", 1)
    assert vip.port == 0 and vip.protocol is None and not vip.src_ip_sticky
    assert vip.state is State.USED


def test_bare_address_is_a_host_prefix(config):
    assert config.add_vip("10.0.0.1").prefix == ip_network("10.0.0.1/32")
    assert config.add_vip("2001:db8::1").prefix == ip_network("2001:db8::1/128")


@pytest.mark.parametrize(
    "prefix,encap,extra,as_addr",
    [
        ("10.0.0.0/24", "gre4", {}, "10.1.0.1"),
        ("10.0.0.0/24", "gre6", {}, "2001:db8::a"),
        ("10.0.0.0/24", "l3dsr", {"dscp": 10}, "10.1.0.1"),
        ("10.0.0.0/24", "nat4", {"protocol": "tcp", "port": 80}, "10.1.0.1"),
        ("2001:db8:1::/64", "gre6", {}, "2001:db8::a"),
        ("2001:db8:1::/64", "gre4", {}, "10.1.0.1"),
        ("2001:db8:1::/64", "nat6", {"protocol": "udp", "port": 53}, "2001:db8::a"),
    ],
)
def test_every_vpp_family_combination_is_accepted(config, prefix, encap, extra, as_addr):
    vip = config.add_vip(prefix, encap=encap, **extra)
    (a,) = config.add_as(vip.key, [as_addr])
    assert a.address == ip_address(as_addr)


@pytest.mark.parametrize(
    "prefix,encap,extra,message",
    [
        ("10.0.0.1/32", "nat6", {"protocol": "tcp", "port": 80}, "NAT46 is not supported"),
        ("2001:db8::1/128", "nat4", {"protocol": "tcp", "port": 80}, "NAT64 is not supported"),
        ("2001:db8::1/128", "l3dsr", {"dscp": 1}, "L3DSR needs an IPv4 VIP"),
    ],
)
def test_nat46_nat64_and_l3dsr6_are_refused(config, prefix, encap, extra, message):
    with pytest.raises(FamilyMismatch, match=message):
        config.add_vip(prefix, encap=encap, **extra)
    assert config.vips() == []


@pytest.mark.parametrize(
    "encap,as_addr,message",
    [
        ("gre4", "2001:db8::a", "AS 2001:db8::a is IPv6 but VIP 10.0.0.1/32 encap gre4 sends "
         "to IPv4 servers"),
        ("gre6", "10.1.0.1", "AS 10.1.0.1 is IPv4 but .* encap gre6 sends to IPv6 servers"),
        ("l3dsr", "2001:db8::a", "is IPv6 but .* encap l3dsr"),
    ],
)
def test_as_family_must_match_the_encap(config, encap, as_addr, message):
    vip = config.add_vip("10.0.0.1/32", encap=encap, dscp=1 if encap == "l3dsr" else None)
    with pytest.raises(FamilyMismatch, match=message):
        config.add_as(vip.key, [as_addr])


def test_l3dsr_needs_dscp_below_64_and_dscp_needs_l3dsr(config):
    with pytest.raises(InvalidValue, match="encap l3dsr needs 'dscp N'"):
        config.add_vip("10.0.0.1/32", encap="l3dsr")
    with pytest.raises(InvalidValue, match="dscp 64 is out of range 0-63"):
        config.add_vip("10.0.0.1/32", encap="l3dsr", dscp=64)
    with pytest.raises(InvalidValue, match="dscp 5 only applies to encap l3dsr, not gre4"):
        config.add_vip("10.0.0.1/32", dscp=5)
    assert config.add_vip("10.0.0.1/32", encap="l3dsr", dscp=63).dscp == 63


def test_nat_needs_a_port_and_defaults_target_port_and_type(config):
    with pytest.raises(InvalidValue, match="encap nat4 needs 'protocol tcp|udp port N'"):
        config.add_vip("10.0.0.1/32", encap="nat4")
    vip = config.add_vip("10.0.0.1/32", "tcp", 80, encap="nat4")
    assert vip.target_port == 80 and vip.srv_type == "clusterip"
    other = config.add_vip("10.0.0.2/32", "udp", 53, "nat4", srv_type="nodeport", target_port=5353)
    assert (other.srv_type, other.target_port) == ("nodeport", 5353)


def test_type_and_target_port_only_with_nat(config):
    with pytest.raises(InvalidValue, match="type nodeport only applies to encap nat4|nat6"):
        config.add_vip("10.0.0.1/32", srv_type="nodeport")
    with pytest.raises(InvalidValue, match="target_port 8080 only applies to encap nat4|nat6"):
        config.add_vip("10.0.0.1/32", target_port=8080)
    with pytest.raises(InvalidValue, match="target_port 0 is out of range 1-65535"):
        config.add_vip("10.0.0.1/32", "tcp", 80, "nat4", target_port=0)


def test_nodeport_ports_are_unique(config):
    config.add_vip("10.0.0.1/32", "tcp", 30080, "nat4", srv_type="nodeport", target_port=80)
    with pytest.raises(Conflict, match="node port 30080 is already used by VIP 10.0.0.1/32"):
        config.add_vip("10.0.0.2/32", "tcp", 30080, "nat4", srv_type="nodeport", target_port=80)


@pytest.mark.parametrize(
    "new_len,message",
    [
        (0, "new_len 0 is not a power of two"),
        (1000, "new_len 1000 is not a power of two"),
        (1 << 17, "new_len 131072 is larger than 65536"),
        (-2, "new_len -2 is out of range"),
    ],
)
def test_new_len_must_be_a_power_of_two(config, new_len, message):
    with pytest.raises(InvalidValue, match=message):
        config.add_vip("10.0.0.1/32", new_len=new_len)


def test_prefix_with_host_bits_is_refused_with_the_likely_meaning(config):
    with pytest.raises(InvalidValue, match=r"10\.0\.0\.1/24 has host bits set; did you mean "
                                           r"10\.0\.0\.0/24\?"):
        config.add_vip("10.0.0.1/24")
    with pytest.raises(InvalidValue, match="VIP prefix '10.0.0/8x' is not an IPv4 or IPv6 prefix"):
        config.add_vip("10.0.0/8x")


@pytest.mark.parametrize(
    "protocol,port,message",
    [
        (None, 80, "port 80 needs a protocol"),
        ("tcp", 0, "port 0 means every port and protocol"),
        ("tcp", 70000, "port 70000 is out of range 1-65535"),
        ("icmp", 1, "unknown protocol 'icmp', expected one of tcp, udp"),
    ],
)
def test_protocol_and_port_go_together(config, protocol, port, message):
    with pytest.raises(InvalidValue, match=message):
        config.add_vip("10.0.0.1/32", protocol, port)


def test_unknown_encap_names_the_choices(config):
    with pytest.raises(InvalidValue, match="unknown encap 'gre5', expected one of gre4, gre6, "
                                           "l3dsr, nat4, nat6"):
        config.add_vip("10.0.0.1/32", encap="gre5")


def test_all_port_and_per_port_vips_do_not_mix_on_one_prefix(config):
    config.add_vip("10.0.0.1/32")
    with pytest.raises(Conflict, match="is per-port but all-port VIP 10.0.0.1/32 exists"):
        config.add_vip("10.0.0.1/32", "tcp", 80)
    config.add_vip("10.0.0.2/32", "tcp", 80)
    with pytest.raises(Conflict, match="covers every port but per-port VIP 10.0.0.2/32 "
                                       "protocol tcp port 80 exists"):
        config.add_vip("10.0.0.2/32")


def test_per_port_vips_of_a_prefix_share_one_encap(config):
    config.add_vip("10.0.0.1/32", "tcp", 80, encap="gre4")
    config.add_vip("10.0.0.1/32", "udp", 53, encap="gre4")
    with pytest.raises(Conflict, match="per-port VIPs of 10.0.0.1/32 must share one encap"):
        config.add_vip("10.0.0.1/32", "tcp", 443, encap="gre6")


def test_adding_the_same_vip_again_is_harmless_but_changing_it_is_refused(config):
    first = config.add_vip("10.0.0.1/32", new_len=64)
    assert config.add_vip("10.0.0.1/32", new_len=64) is first
    with pytest.raises(Conflict, match="already exists with new_len 64; delete it first"):
        config.add_vip("10.0.0.1/32", new_len=128)


def test_a_thousand_vips_get_distinct_ids_and_are_found_again(config):
    for i in range(1000):
        vip = config.add_vip(f"10.{i // 256}.{i % 256}.1/32", "tcp", 80)
        config.add_as(vip.key, [f"192.168.{i // 256}.{i % 256}"])
    ids = {v.vip_id for v in config.vips()}
    assert ids == set(range(1, 1001))
    vip = config.vip(key("10.3.231.1/32", "tcp", 80))
    assert config.vip_by_id(vip.vip_id) is vip and config.as_count() == 1000


# ------------------------------------------------------------------- lb as


def test_add_as_gives_ids_and_default_weight(config):
    vip = config.add_vip("10.0.0.1/32")
    a, b = config.add_as(vip.key, ["10.1.0.1", "10.1.0.2"])
    assert (a.as_id, b.as_id, a.weight) == (1, 2, 100)
    assert config.as_by_id(2) == (vip, b)


def test_adding_an_existing_as_only_updates_its_weight(config):
    vip = config.add_vip("10.0.0.1/32")
    (a,) = config.add_as(vip.key, ["10.1.0.1"], weight=30)
    (again,) = config.add_as(vip.key, ["10.1.0.1"])
    assert again is a and a.weight == 30 and a.as_id == 1
    config.add_as(vip.key, ["10.1.0.1"], weight=70)
    assert a.weight == 70 and config.as_count() == 1


@pytest.mark.parametrize("weight", [-1, 101])
def test_weight_outside_0_100_is_refused(config, weight):
    vip = config.add_vip("10.0.0.1/32")
    with pytest.raises(InvalidValue, match=f"weight {weight} is out of range 0-100"):
        config.add_as(vip.key, ["10.1.0.1"], weight=weight)


def test_add_as_is_all_or_nothing(config):
    vip = config.add_vip("10.0.0.1/32")
    with pytest.raises(FamilyMismatch, match="AS 2001:db8::1 is IPv6"):
        config.add_as(vip.key, ["10.1.0.1", "2001:db8::1"])
    with pytest.raises(InvalidValue, match="AS address '10.1.0.x' is not an IPv4 or IPv6"):
        config.add_as(vip.key, ["10.1.0.1", "10.1.0.x"])
    assert vip.ases == {} and config.as_count() == 0


def test_add_as_needs_an_address_and_an_existing_vip(config):
    vip = config.add_vip("10.0.0.1/32")
    with pytest.raises(InvalidValue, match="no AS address given"):
        config.add_as(vip.key, [])
    with pytest.raises(NotFound, match="VIP 10.0.0.9/32 protocol udp port 53 does not exist"):
        config.add_as(key("10.0.0.9/32", "udp", 53), ["10.1.0.1"])


def test_one_as_cannot_answer_for_two_nat_vips_on_the_same_target_port(config):
    a = config.add_vip("10.0.0.1/32", "tcp", 80, "nat4", target_port=8080)
    b = config.add_vip("10.0.0.2/32", "tcp", 80, "nat4", target_port=8080)
    config.add_as(a.key, ["10.1.0.1"])
    with pytest.raises(Conflict, match="AS 10.1.0.1 tcp port 8080 already serves NAT VIP "
                                       "10.0.0.1/32 protocol tcp port 80"):
        config.add_as(b.key, ["10.1.0.1"])
    c = config.add_vip("10.0.0.3/32", "tcp", 80, "nat4", target_port=9090)
    config.add_as(c.key, ["10.1.0.1"])  # another target port is told apart


def test_deleting_an_as_without_flows_removes_it_once_its_pending_flows_are_over(config):
    vip = config.add_vip("10.0.0.1/32")
    config.add_as(vip.key, ["10.1.0.1", "10.1.0.2"])
    (drained,) = config.del_as(vip.key, ["10.1.0.1"])
    # The data plane may have sent a new flow there that nobody tracks yet.
    assert drained.state is State.DRAINING and drained.pending and not drained.live
    assert config.set_flow_count(drained.as_id, 0) == []
    assert config.pending_ended([drained.as_id]) == [drained]
    assert drained.state is State.REMOVED
    assert list(vip.ases) == [ip_address("10.1.0.2")] and config.as_by_id(drained.as_id) is None


def test_a_pending_as_with_flows_waits_for_them_too(config):
    vip = config.add_vip("10.0.0.1/32")
    (a,) = config.add_as(vip.key, ["10.1.0.1"])
    config.del_as(vip.key, ["10.1.0.1"])
    config.set_flow_count(a.as_id, 1)  # the pending flow was learned
    assert config.pending_ended([a.as_id]) == [] and a.state is State.DRAINING
    assert config.set_flow_count(a.as_id, 0) == [a]


def test_flushing_bumps_the_vips_flush_epoch_and_draining_does_not(config):
    vip = config.add_vip("10.0.0.1/32")
    config.add_as(vip.key, ["10.1.0.1", "10.1.0.2", "10.1.0.3"])
    config.del_as(vip.key, ["10.1.0.1"])
    assert vip.flush_epoch == 0  # its pending flows keep their AS
    config.del_as(vip.key, ["10.1.0.2"], flush=True)
    config.flush_vip(vip.key)
    assert vip.flush_epoch == 2
    for _ in range(254):
        config.flush_vip(vip.key)
    assert vip.flush_epoch == 0  # 8 bits, as lb.p4 keeps it


def test_deleting_a_vip_holds_no_as_pending(config):
    vip = config.add_vip("10.0.0.1/32")
    config.add_as(vip.key, ["10.1.0.1"])
    assert config.del_vip("10.0.0.1/32").state is State.REMOVED


def test_deleting_an_as_with_flows_drains_it_until_its_last_flow_is_gone(config):
    vip = config.add_vip("10.0.0.1/32", new_len=16)
    a, b = config.add_as(vip.key, ["10.1.0.1", "10.1.0.2"])
    config.set_flow_count(a.as_id, 3)
    (drained,) = config.del_as(vip.key, ["10.1.0.1"])
    assert drained is a and a.state is State.DRAINING and not a.live
    assert vip.bucket_counts() == {a.address: 0, b.address: 16}
    assert config.set_flow_count(a.as_id, 1) == []
    assert config.pending_ended([a.as_id]) == []
    assert config.set_flow_count(a.as_id, 0) == [a]
    assert a.state is State.REMOVED and a.address not in vip.ases


def test_as_flows_gone_names_the_as_by_vip_and_address(config):
    vip = config.add_vip("10.0.0.1/32")
    (a,) = config.add_as(vip.key, ["10.1.0.1"])
    config.set_flow_count(a.as_id, 2)
    config.del_as(vip.key, ["10.1.0.1"])
    config.pending_ended([a.as_id])
    assert config.as_flows_gone(vip.key, "10.1.0.1") == [a]
    with pytest.raises(NotFound, match="AS 10.1.0.1 is not configured on VIP 10.0.0.1/32"):
        config.as_flows_gone(vip.key, "10.1.0.1")


def test_delete_with_flush_removes_at_once_even_with_flows(config):
    vip = config.add_vip("10.0.0.1/32")
    (a,) = config.add_as(vip.key, ["10.1.0.1"])
    config.set_flow_count(a.as_id, 5)
    (gone,) = config.del_as(vip.key, ["10.1.0.1"], flush=True)
    assert gone.state is State.REMOVED and vip.ases == {}


def test_adding_a_draining_as_back_revives_it_with_its_id(config):
    vip = config.add_vip("10.0.0.1/32")
    (a,) = config.add_as(vip.key, ["10.1.0.1"])
    config.set_flow_count(a.as_id, 1)
    config.del_as(vip.key, ["10.1.0.1"])
    (back,) = config.add_as(vip.key, ["10.1.0.1"], weight=20)
    assert back is a and a.state is State.USED and a.weight == 20


def test_deleting_an_unknown_as_is_refused_and_changes_nothing(config):
    vip = config.add_vip("10.0.0.1/32")
    config.add_as(vip.key, ["10.1.0.1"])
    with pytest.raises(NotFound, match="AS 10.1.0.9 is not configured on VIP 10.0.0.1/32"):
        config.del_as(vip.key, ["10.1.0.1", "10.1.0.9"])
    assert vip.ases[ip_address("10.1.0.1")].state is State.USED


def test_bucket_counts_follow_weights_and_weight_zero_gets_none(config):
    vip = config.add_vip("10.0.0.1/32", new_len=1024)
    config.add_as(vip.key, ["10.1.0.1"], weight=100)
    config.add_as(vip.key, ["10.1.0.2"], weight=50)
    config.add_as(vip.key, ["10.1.0.3"], weight=0)
    counts = {str(a): n for a, n in vip.bucket_counts().items()}
    assert counts == {"10.1.0.1": 683, "10.1.0.2": 341, "10.1.0.3": 0}


# ----------------------------------------------------------- VIP deletion


def test_deleting_a_vip_without_flows_removes_it_and_frees_the_prefix(config):
    vip = config.add_vip("10.0.0.1/32")
    config.add_as(vip.key, ["10.1.0.1"])
    gone = config.del_vip("10.0.0.1/32")
    assert gone.state is State.REMOVED and config.vips() == [] and config.as_count() == 0
    assert config.add_vip("10.0.0.1/32", "tcp", 80).vip_id != gone.vip_id


def test_deleting_a_vip_with_flows_drains_it_visibly(config):
    vip = config.add_vip("10.0.0.1/32")
    a, b = config.add_as(vip.key, ["10.1.0.1", "10.1.0.2"])
    config.set_flow_count(a.as_id, 4)
    config.del_vip("10.0.0.1/32")
    assert vip.state is State.DRAINING and list(vip.ases) == [a.address]
    assert b.state is State.REMOVED and config.vips() == [vip]
    with pytest.raises(NotFound, match="VIP 10.0.0.1/32 was deleted \\(draining 4 flows\\)"):
        config.add_as(vip.key, ["10.1.0.3"])
    with pytest.raises(NotFound, match="was deleted"):
        config.del_vip("10.0.0.1/32")
    config.set_flow_count(a.as_id, 0)
    assert vip.state is State.REMOVED and config.vips() == []


def test_re_adding_a_draining_vip_revives_it_with_its_new_settings(config):
    vip = config.add_vip("10.0.0.1/32", encap="gre4", new_len=16)
    a, b = config.add_as(vip.key, ["10.1.0.1", "10.1.0.2"])
    config.set_flow_count(a.as_id, 4)
    config.del_vip("10.0.0.1/32")
    again = config.add_vip("10.0.0.1/32", encap="l3dsr", dscp=9, new_len=64,
                           src_ip_sticky=True)
    assert again is vip and vip.vip_id == again.vip_id and vip.state is State.USED
    assert (vip.encap, vip.dscp, vip.new_len, vip.src_ip_sticky) == (Encap.L3DSR, 9, 64, True)
    # Its draining AS keeps its flows and gets no buckets until it is added again.
    assert a.state is State.DRAINING and a.flows == 4 and vip.bucket_counts()[a.address] == 0
    (c,) = config.add_as(vip.key, ["10.1.0.3"])
    assert vip.bucket_counts()[c.address] == 64
    config.add_as(vip.key, ["10.1.0.1"])
    assert a.state is State.USED and a.as_id != b.as_id
    # Identical re-add of a live VIP is still a no-op, a different one a conflict.
    assert config.add_vip("10.0.0.1/32", encap="l3dsr", dscp=9, new_len=64,
                          src_ip_sticky=True) is vip
    with pytest.raises(Conflict, match="already exists with new_len 64"):
        config.add_vip("10.0.0.1/32", encap="l3dsr", dscp=9, new_len=16, src_ip_sticky=True)


def test_reviving_a_vip_refuses_settings_its_draining_ases_cannot_take(config):
    vip = config.add_vip("10.0.0.1/32", encap="gre4")
    (a,) = config.add_as(vip.key, ["10.1.0.1"])
    config.set_flow_count(a.as_id, 1)
    config.del_vip("10.0.0.1/32")
    with pytest.raises(FamilyMismatch, match="AS 10.1.0.1 is IPv4 but VIP 10.0.0.1/32 encap "
                                             "gre6 sends to IPv6"):
        config.add_vip("10.0.0.1/32", encap="gre6")
    assert vip.state is State.DRAINING and vip.encap is Encap.GRE4
    # A per-port VIP cannot join a prefix whose all-port VIP drains, revived or not.
    with pytest.raises(Conflict, match="is per-port but all-port VIP 10.0.0.1/32 exists"):
        config.add_vip("10.0.0.1/32", "tcp", 80)


def test_revived_nodeport_vip_does_not_conflict_with_itself(config):
    vip = config.add_vip("10.0.0.1/32", "tcp", 80, encap="nat4", srv_type="nodeport",
                         target_port=30080)
    (a,) = config.add_as(vip.key, ["10.1.0.1"])
    config.set_flow_count(a.as_id, 1)
    config.del_vip("10.0.0.1/32", "tcp", 80)
    again = config.add_vip("10.0.0.1/32", "tcp", 80, encap="nat4", srv_type="nodeport",
                           target_port=30081)
    assert again is vip and vip.target_port == 30081


def test_deleting_a_missing_vip_is_refused(config):
    with pytest.raises(NotFound, match="VIP 10.0.0.1/32 protocol tcp port 80 does not exist"):
        config.del_vip("10.0.0.1/32", "tcp", 80)


def test_flush_vip_forgets_flows_and_collects_what_was_draining(config):
    vip = config.add_vip("10.0.0.1/32")
    a, b = config.add_as(vip.key, ["10.1.0.1", "10.1.0.2"])
    config.set_flow_count(a.as_id, 4)
    config.set_flow_count(b.as_id, 6)
    config.del_as(vip.key, ["10.1.0.1"])
    assert config.flush_vip(vip.key) is vip
    assert list(vip.ases) == [b.address] and b.flows == 0 and b.state is State.USED
    config.set_flow_count(b.as_id, 2)
    config.del_vip("10.0.0.1/32")
    config.flush_vip(vip.key)
    assert vip.state is State.REMOVED and config.vips() == []
    with pytest.raises(NotFound, match="VIP 10.0.0.1/32 does not exist"):
        config.flush_vip(vip.key)


# --------------------------------------------------------------------- ids


def test_freed_ids_are_not_reused_before_the_others():
    config = LbConfig(max_vip_id=3, max_as_id=3)
    vip = config.add_vip("10.0.0.1/32")
    a, b = config.add_as(vip.key, ["10.1.0.1", "10.1.0.2"])
    config.del_as(vip.key, ["10.1.0.1"], flush=True)
    (c,) = config.add_as(vip.key, ["10.1.0.3"])
    assert c.as_id == 3
    (d,) = config.add_as(vip.key, ["10.1.0.4"])
    assert d.as_id == a.as_id == 1  # wrapped around to the only free id
    with pytest.raises(Conflict, match="not enough free AS ids for 1 ASs"):
        config.add_as(vip.key, ["10.1.0.5"])


def test_vip_ids_run_out_with_a_clear_error():
    config = LbConfig(max_vip_id=1)
    config.add_vip("10.0.0.1/32")
    with pytest.raises(Conflict, match="all 1 VIP ids are in use"):
        config.add_vip("10.0.0.2/32")


def test_flow_counts_for_unknown_ids_are_ignored_and_negative_ones_refused(config):
    assert config.set_flow_count(77, 0) == []
    with pytest.raises(InvalidValue, match="flow count -1 is out of range"):
        config.set_flow_count(1, -1)


# ------------------------------------------------------------------ routes


def test_routes_add_replace_delete(config):
    r = config.add_route("10.1.0.0/16", 1, "02:00:00:00:00:01")
    assert config.add_route("10.1.0.0/16", 1, "02:00:00:00:00:01") == r
    with pytest.raises(Conflict, match=r"route 10.1.0.0/16 exists \(via 02:00:00:00:00:01 port "
                                       r"1\); delete it or use 'ip route replace'"):
        config.add_route("10.1.0.0/16", 2, "02:00:00:00:00:02")
    config.add_route("10.1.0.0/16", 2, "02-00-00-00-00-0A", "02:00:00:00:01:00", replace=True)
    (route,) = config.routes()
    assert (route.port, str(route.next_hop_mac), str(route.src_mac)) == (
        2, "02:00:00:00:00:0a", "02:00:00:00:01:00")
    config.add_route("2001:db8::/32", 3, "02:00:00:00:00:03")
    assert config.del_route("10.1.0.0/16") == route
    assert [str(r.prefix) for r in config.routes()] == ["2001:db8::/32"]
    with pytest.raises(NotFound, match="route 10.1.0.0/16 does not exist"):
        config.del_route("10.1.0.0/16")


@pytest.mark.parametrize(
    "args,message",
    [
        (("10.1.0.0/16", 511, "02:00:00:00:00:01"), "port 511 is out of range 0-510"),
        (("10.1.0.0/16", 1, "02:00:00:00:01"), "next-hop MAC '02:00:00:00:01' is not a MAC"),
        (("10.1.0.0/16", 1, "02:00:00:00:00:zz"), "next-hop MAC '02:00:00:00:00:zz'"),
        (("10.1.0.1/16", 1, "02:00:00:00:00:01"), "route prefix 10.1.0.1/16 has host bits set"),
    ],
)
def test_bad_routes_are_refused_by_name(config, args, message):
    with pytest.raises(InvalidValue, match=message):
        config.add_route(*args)
    with pytest.raises(InvalidValue, match="src-mac 'x' is not a MAC"):
        config.add_route("10.1.0.0/16", 1, "02:00:00:00:00:01", "x")
