"""The VPP lb grammar: every rule, every error, and completion."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.cli_grammar import (
    HELP,
    AsCommand,
    ConfCommand,
    FlushAllFlowsCommand,
    FlushVipCommand,
    HelpCommand,
    ParseError,
    RouteCommand,
    RouteDelCommand,
    ShowFlowsCommand,
    ShowLbCommand,
    ShowRoutesCommand,
    ShowRunningConfigCommand,
    ShowVipsCommand,
    VipCommand,
    complete,
    parse,
)
from controller.lb_model import LbConfig, LbConfigError, MacAddress, State, make_vip_key
from controller.lb_values import Encap, Protocol, SrvType

V = make_vip_key


# ------------------------------------------------------------------ lb conf


def test_lb_conf_all_options_any_order():
    cmd = parse("lb conf timeout 60 buckets 2048 ip6-src-address 2001:db8::1 "
                "ip4-src-address 192.0.2.1")
    assert cmd == ConfCommand(ip_address("192.0.2.1"), ip_address("2001:db8::1"), 2048, 60)


def test_lb_conf_pending_timeout_in_milliseconds_and_0_turns_it_off():
    assert parse("lb conf pending-timeout 500") == ConfCommand(pending_timeout_ms=500)
    config = LbConfig()
    parse("lb conf pending-timeout 0").apply(config)
    assert config.conf.pending_timeout_ms == 0


def test_lb_conf_buckets_log2():
    assert parse("lb conf buckets-log2 12") == ConfCommand(buckets=4096)


@pytest.mark.parametrize(
    "line,message",
    [
        ("lb conf", "lb conf: expected one of ip4-src-address, ip6-src-address, buckets, "
                    "buckets-log2, timeout"),
        ("lb conf buckets 0", "lb conf buckets 0: buckets 0 is not a power of two"),
        ("lb conf buckets 1000", "lb conf buckets 1000: buckets 1000 is not a power of two"),
        ("lb conf buckets -4", "lb conf buckets -4: buckets '-4' is not a decimal number"),
        ("lb conf buckets-log2 32", "lb conf buckets-log2 32: buckets-log2 32 is out of range "
                                    "0-31"),
        ("lb conf buckets 8 buckets-log2 3", "give buckets or buckets-log2, not both"),
        ("lb conf timeout 0", "lb conf timeout 0: timeout 0 is out of range 1-4294967295"),
        ("lb conf timeout 1s", "lb conf timeout 1s: timeout '1s' is not a decimal number"),
        ("lb conf timeout", "lb conf timeout: expected a timeout in seconds"),
        ("lb conf pending-timeout 600001", "lb conf pending-timeout 600001: pending-timeout "
         "600001 is out of range 0-600000"),
        ("lb conf ip4-src-address 2001:db8::1", "ip4-src-address 2001:db8::1 is not an IPv4 "
                                                "address"),
        ("lb conf ip6-src-address 192.0.2.1", "ip6-src-address 192.0.2.1 is not an IPv6"),
        ("lb conf ip4-src-address 1.2.3", "ip4-src-address '1.2.3' is not an IPv4 or IPv6"),
        ("lb conf timeout 5 timeout 6", "lb conf timeout 5 timeout: 'timeout' is given twice"),
        ("lb conf colour blue", "lb conf colour: unknown option 'colour', expected one of "
                                "ip4-src-address"),
    ],
)
def test_lb_conf_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse(line)


# ------------------------------------------------------------------- lb vip


def test_lb_vip_defaults():
    assert parse("lb vip 10.0.0.0/24") == VipCommand(V("10.0.0.0/24"))
    cmd = parse("lb vip 2002::/16 encap gre6 new_len 1024")
    assert cmd == VipCommand(V("2002::/16"), Encap.GRE6, new_len=1024)


def test_lb_vip_every_option():
    cmd = parse("lb vip 10.0.0.0/24 protocol udp port 53 encap nat4 type nodeport "
                "target_port 5353 new_len 64 src_ip_sticky")
    assert cmd == VipCommand(V("10.0.0.0/24", "udp", 53), Encap.NAT4, None, SrvType.NODEPORT,
                             5353, 64, True)
    assert parse("lb vip 10.0.0.1 encap l3dsr dscp 7").dscp == 7


def test_lb_vip_options_in_any_order():
    a = parse("lb vip 10.0.0.1/32 port 80 new_len 16 protocol tcp encap gre6")
    b = parse("lb vip 10.0.0.1/32 encap gre6 protocol tcp port 80 new_len 16")
    assert a == b and a.key == V("10.0.0.1/32", Protocol.TCP, 80)


def test_lb_vip_port_0_is_the_all_port_vip():
    assert parse("lb vip 10.0.0.1/32 port 0").key == V("10.0.0.1/32")


def test_lb_vip_del():
    assert parse("lb vip 10.0.0.1/32 protocol tcp port 80 del") == VipCommand(
        V("10.0.0.1/32", "tcp", 80), delete=True
    )


def test_lb_vip_del_accepts_the_vips_settings_as_vpp_does():
    cmd = parse("lb vip 10.0.0.1/32 protocol tcp port 80 encap nat4 type clusterip "
                "target_port 8080 new_len 16 src_ip_sticky del")
    assert cmd.delete and dict(cmd.expect) == {
        "encap": Encap.NAT4, "srv_type": SrvType.CLUSTERIP, "target_port": 8080,
        "new_len": 16, "src_ip_sticky": True}
    config = LbConfig()
    parse("lb vip 10.0.0.1/32 protocol tcp port 80 encap nat4 target_port 8080 new_len 16 "
          "src_ip_sticky").apply(config)
    assert cmd.apply(config).state is State.REMOVED and config.vips() == []


def test_lb_vip_del_refuses_settings_that_contradict_the_vip_naming_them():
    config = LbConfig()
    parse("lb vip 10.0.0.1/32 encap gre4 new_len 16").apply(config)
    with pytest.raises(LbConfigError, match=r"^VIP 10.0.0.1/32 does not match encap gre6, "
                       r"new_len 32, src_ip_sticky \(it has encap gre4, new_len 16, no "
                       r"src_ip_sticky\); nothing was deleted$"):
        parse("lb vip 10.0.0.1/32 encap gre6 new_len 32 src_ip_sticky del").apply(config)
    with pytest.raises(LbConfigError, match=r"does not match dscp 5 \(it has no dscp\)"):
        parse("lb vip 10.0.0.1/32 dscp 5 del").apply(config)
    assert config.vip(V("10.0.0.1/32")).state is State.USED
    assert parse("lb vip 10.0.0.1/32 encap gre4 del").apply(config).state is State.REMOVED


@pytest.mark.parametrize(
    "line,command",
    [
        ("sh lb vip verb", ShowVipsCommand(True)),
        ("show lb vip", ShowVipsCommand(False)),
        ("s l f v 10.0.0.1/32 pr t po 53", ShowFlowsCommand(V("10.0.0.1/32", "tcp", 53))),
        ("lb v 10.0.0.1/32 en gre6 new 16 src", VipCommand(V("10.0.0.1/32"), Encap.GRE6,
                                                            new_len=16, src_ip_sticky=True)),
        ("lb vip 10.0.0.1/32 pro u po 53 en nat4 ty node tar 5353",
         VipCommand(V("10.0.0.1/32", "udp", 53), Encap.NAT4, None, SrvType.NODEPORT, 5353)),
        ("lb vip 10.0.0.1/32 e l3 ds 3", VipCommand(V("10.0.0.1/32"), Encap.L3DSR, 3)),
        ("lb a 10.0.0.1/32 10.1.0.1 w 5", AsCommand(V("10.0.0.1/32"), (ip_address("10.1.0.1"),),
                                                    5)),
        ("lb a 10.0.0.1/32 10.1.0.1 d f", AsCommand(V("10.0.0.1/32"), (ip_address("10.1.0.1"),),
                                                    delete=True, flush=True)),
        ("lb c buckets 16", ConfCommand(buckets=16)),  # exact 'buckets' beats buckets-log2
        ("lb c buckets- 4 t 9", ConfCommand(buckets=16, timeout=9)),
        ("lb f v 10.0.0.1/32", FlushVipCommand(V("10.0.0.1/32"))),
        ("i r a 10.1.0.0/16 v 02:00:00:00:00:01 p 2",
         RouteCommand(ip_network("10.1.0.0/16"), 2, MacAddress(0x020000000001))),
        ("sh ip ro", ShowRoutesCommand()),
        ("sh ru", ShowRunningConfigCommand()),
        ("he", HelpCommand()),
        ("t l f f", FlushAllFlowsCommand()),
        ("test lb flowtable flush", FlushAllFlowsCommand()),
    ],
)
def test_every_keyword_takes_an_unambiguous_prefix(line, command):
    assert parse(line) == command


@pytest.mark.parametrize(
    "line,message",
    [
        ("lb conf b 16", "^lb conf b: ambiguous option 'b': could be buckets, buckets-log2$"),
        ("lb conf ip 1.2.3.4", "ambiguous option 'ip': could be ip4-src-address, "
                               "ip6-src-address"),
        ("show lb vips verbose", None),
        ("lb vip 10.0.0.1/32 protocol tcp port 80 encap nat", "ambiguous encap 'nat': could "
                                                              "be nat4, nat6"),
        ("lb as 10.0.0.1/32 10.1.0.1 d d", "'del' is given twice"),
        ("show lb vips v now", "unexpected 'now'"),
        ("test lb flowtable", "test lb flowtable: missing flowtable command, expected one of "
                              "flush"),
        ("test lb flowtable flush now", "unexpected 'now'"),
        ("test lb", "missing test lb command, expected one of flowtable"),
    ],
)
def test_ambiguous_prefixes_name_the_candidates(line, message):
    if message is None:
        parse(line)
        return
    with pytest.raises(ParseError, match=message):
        parse(line)


def test_flowtable_flush_flushes_every_vip():
    config = LbConfig()
    for line in ("lb vip 10.0.0.1/32", "lb vip 10.0.0.2/32", "lb as 10.0.0.1/32 10.1.0.1",
                 "lb as 10.0.0.2/32 10.1.0.2"):
        parse(line).apply(config)
    for vip in config.vips():
        config.set_flow_count(next(iter(vip.ases.values())).as_id, 3)
    parse("lb as 10.0.0.1/32 10.1.0.1 del").apply(config)
    assert config.as_count() == 2  # draining, 3 flows
    assert parse("test lb flowtable flush").apply(config) == config.vips()
    assert config.as_count() == 1 and all(a.flows == 0 for v in config.vips()
                                           for a in v.ases.values())


@pytest.mark.parametrize(
    "line,message",
    [
        ("lb vip", "lb vip: expected a VIP prefix"),
        ("lb vip 10.0.0.1/33", "lb vip 10.0.0.1/33: VIP prefix '10.0.0.1/33' is not an IPv4"),
        ("lb vip banana", "VIP prefix 'banana' is not an IPv4 or IPv6 prefix"),
        ("lb vip 10.0.0.1/24", "lb vip 10.0.0.1/24: VIP prefix 10.0.0.1/24 has host bits set; "
                               "did you mean 10.0.0.0/24\\?"),
        ("lb vip 10.0.0.1/32 encap gre5", "^lb vip 10.0.0.1/32 encap gre5: unknown encap 'gre5', "
                                          "expected one of gre4, gre6, l3dsr, nat4, nat6$"),
        ("lb vip 10.0.0.1/32 encap", "lb vip 10.0.0.1/32 encap: expected an encap: gre4"),
        ("lb vip 10.0.0.1/32 protocol icmp port 1", "unknown protocol 'icmp', expected one of "
                                                    "tcp, udp"),
        ("lb vip 10.0.0.1/32 protocol tcp", "lb vip 10.0.0.1/32 protocol tcp: protocol tcp "
                                            "needs 'port N'"),
        ("lb vip 10.0.0.1/32 port 80", "port 80 needs a protocol"),
        ("lb vip 10.0.0.1/32 protocol tcp port 0", "port 0 means every port and protocol"),
        ("lb vip 10.0.0.1/32 protocol tcp port 65536", "port 65536 is out of range 0-65535"),
        ("lb vip 10.0.0.1/32 protocol tcp port http", "port 'http' is not a decimal number"),
        ("lb vip 10.0.0.1/32 dscp 64", "lb vip 10.0.0.1/32 dscp 64: dscp 64 is out of range 0-63"),
        ("lb vip 10.0.0.1/32 type loadbalancer", "unknown type 'loadbalancer', expected one of "
                                                 "clusterip, nodeport"),
        ("lb vip 10.0.0.1/32 target_port 0", "target_port 0 is out of range 1-65535"),
        ("lb vip 10.0.0.1/32 new_len 0", "new_len 0: new_len 0 is not a power of two"),
        ("lb vip 10.0.0.1/32 new_len 1000", "new_len 1000 is not a power of two"),
        ("lb vip 10.0.0.1/32 new_len 131072", "new_len 131072 is larger than 65536"),
        ("lb vip 10.0.0.1/32 new_len 16 new_len 32", "'new_len' is given twice"),
        ("lb vip 10.0.0.1/32 encap gre del", "lb vip 10.0.0.1/32 encap gre: ambiguous encap "
                                             "'gre': could be gre4, gre6"),
        ("lb vip 10.0.0.1/32 p 80", "lb vip 10.0.0.1/32 p: ambiguous option 'p': could be "
                                    "protocol, port"),
        ("lb vip 10.0.0.1/32 weight 5", "lb vip 10.0.0.1/32 weight: unknown option 'weight', "
                                        "expected one of protocol, port, encap"),
    ],
)
def test_lb_vip_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse(line)


# -------------------------------------------------------------------- lb as


def test_lb_as_several_addresses():
    cmd = parse("lb as 2002::/16 2001::2 2001::3 2001::4")
    assert cmd == AsCommand(V("2002::/16"), tuple(map(ip_address, ["2001::2", "2001::3",
                                                                   "2001::4"])))


def test_lb_as_per_port_vip_weight_and_mixed_order():
    cmd = parse("lb as 10.0.0.0/24 protocol tcp port 80 10.1.0.1 weight 30 10.1.0.2")
    assert cmd == AsCommand(V("10.0.0.0/24", "tcp", 80),
                            (ip_address("10.1.0.1"), ip_address("10.1.0.2")), 30)


def test_lb_as_del_and_flush():
    assert parse("lb as 90.0.0.0/8 10.0.0.1 del") == AsCommand(
        V("90.0.0.0/8"), (ip_address("10.0.0.1"),), delete=True)
    assert parse("lb as 90.0.0.0/8 10.0.0.1 del flush").flush


@pytest.mark.parametrize(
    "line,message",
    [
        ("lb as", "lb as: expected a VIP prefix"),
        ("lb as 10.0.0.1/32", "lb as 10.0.0.1/32: expected at least one AS address"),
        ("lb as 10.0.0.1/32 del", "expected at least one AS address"),
        ("lb as 10.0.0.1/32 10.1.0.300", "lb as 10.0.0.1/32 10.1.0.300: AS address '10.1.0.300' "
                                         "is not an IPv4 or IPv6 address"),
        ("lb as 10.0.0.1/32 10.1.0.1 banana", "lb as 10.0.0.1/32 10.1.0.1 banana: unknown option "
                                              "'banana', expected an AS address or one of "
                                              "protocol, port, weight, del, flush"),
        ("lb as 10.0.0.1/32 10.1.0.1 weight 101", "weight 101 is out of range 0-100"),
        ("lb as 10.0.0.1/32 10.1.0.1 weight", "weight: expected a weight 0-100"),
        ("lb as 10.0.0.1/32 10.1.0.1 flush", "'flush' only goes with 'del'"),
        ("lb as 10.0.0.1/32 10.1.0.1 weight 5 del", "'weight' does not go with 'del'"),
        ("lb as 10.0.0.1/32 protocol udp 10.1.0.1", "protocol udp needs 'port N'"),
        ("lb as 10.0.0.1/32 10.1.0.1 del del", "'del' is given twice"),
    ],
)
def test_lb_as_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse(line)


# -------------------------------------------------------- lb flush, show, ip


def test_lb_flush_vip():
    assert parse("lb flush vip 10.0.0.1/32") == FlushVipCommand(V("10.0.0.1/32"))
    assert parse("lb flush vip 10.0.0.1/32 protocol tcp port 80") == FlushVipCommand(
        V("10.0.0.1/32", "tcp", 80))


@pytest.mark.parametrize(
    "line,message",
    [
        ("lb flush", "lb flush: missing flush target, expected one of vip"),
        ("lb flush as 10.0.0.1/32", "unknown flush target 'as', expected one of vip"),
        ("lb flush vip", "lb flush vip: expected a VIP prefix"),
        ("lb flush vip 10.0.0.1/32 encap gre4", "unknown option 'encap', expected one of "
                                                "protocol, port"),
    ],
)
def test_lb_flush_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse(line)


@pytest.mark.parametrize(
    "line,command",
    [
        ("show lb", ShowLbCommand()),
        ("show lb vips", ShowVipsCommand(False)),
        ("show lb vips verbose", ShowVipsCommand(True)),
        ("show lb flows", ShowFlowsCommand()),
        ("show lb flows vip 10.0.0.1/32", ShowFlowsCommand(V("10.0.0.1/32"))),
        ("show lb flows vip 10.0.0.1/32 protocol udp port 53",
         ShowFlowsCommand(V("10.0.0.1/32", "udp", 53))),
        ("show ip route", ShowRoutesCommand()),
        ("show running-config", ShowRunningConfigCommand()),
        ("help", HelpCommand()),
        ("  show   lb  ", ShowLbCommand()),
    ],
)
def test_show_commands(line, command):
    assert parse(line) == command


@pytest.mark.parametrize(
    "line,message",
    [
        ("show", "show: missing show target, expected one of lb, ip, running-config"),
        ("show lb vipz", "show lb vipz: unknown show lb target 'vipz', expected one of vips, "
                         "flows"),
        ("show lb vips loud", "unknown option 'loud', expected one of verbose"),
        ("show lb vips verbose now", "unexpected 'now' at the end of the command"),
        ("show lb flows 10.0.0.1/32", "unknown option '10.0.0.1/32', expected one of vip"),
        ("show ip", "show ip: missing show ip target, expected one of route"),
        ("show ip route 10.0.0.0/8", "unexpected '10.0.0.0/8'"),
        ("show running-config all", "unexpected 'all'"),
        ("help me", "unexpected 'me'"),
    ],
)
def test_show_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse(line)


def test_ip_route_add_replace_del():
    cmd = parse("ip route add 10.1.0.0/16 via 02:00:00:00:00:01 port 2")
    assert cmd == RouteCommand(ip_network("10.1.0.0/16"), 2, MacAddress(0x020000000001))
    cmd = parse("ip route replace 2001:db8::/32 port 3 src-mac 02:00:00:00:00:aa "
                "via 02:00:00:00:00:01")
    assert cmd.replace and cmd.port == 3 and str(cmd.src_mac) == "02:00:00:00:00:aa"
    assert parse("ip route del 10.1.0.0/16") == RouteDelCommand(ip_network("10.1.0.0/16"))


@pytest.mark.parametrize(
    "line,message",
    [
        ("ip", "ip: missing ip command, expected one of route"),
        ("ip route", "ip route: missing route command, expected one of add, replace, del"),
        ("ip route show", "unknown route command 'show'"),
        ("ip route add", "ip route add: expected a route prefix"),
        ("ip route add 10.1.0.1/16 via 02:00:00:00:00:01 port 1", "route prefix 10.1.0.1/16 has "
                                                                  "host bits set"),
        ("ip route add 10.1.0.0/16 port 1", "expected 'via'"),
        ("ip route add 10.1.0.0/16 via 02:00:00:00:00:01", "expected 'port'"),
        ("ip route add 10.1.0.0/16 via 02:00:00:00:01 port 1", "via 02:00:00:00:01: MAC "
                                                               "'02:00:00:00:01' is not a MAC"),
        ("ip route add 10.1.0.0/16 via 02:00:00:00:00:01 port 511", "port 511 is out of range "
                                                                    "0-510"),
        ("ip route add 10.1.0.0/16 via 02:00:00:00:00:01 port 1 dev eth0", "unknown option "
                                                                           "'dev'"),
        ("ip route del 10.1.0.0/16 via 02:00:00:00:00:01", "unexpected 'via'"),
    ],
)
def test_ip_route_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse(line)


@pytest.mark.parametrize(
    "line,message",
    [
        ("", "^missing command, expected one of lb, show, ip, test, help$"),
        ("   ", "^missing command"),
        ("vpp lb conf", "^vpp: unknown command 'vpp', expected one of lb, show, ip, test, "
                        "help$"),
        ("lb", "^lb: missing lb command, expected one of conf, vip, as, flush, health-check$"),
        ("lb asx 10.0.0.1/32", "unknown lb command 'asx'"),
        ("LB conf timeout 5", "unknown command 'LB'"),
    ],
)
def test_top_level_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse(line)


def test_parse_error_carries_position_and_expected_words():
    with pytest.raises(ParseError) as info:
        parse("lb vip 10.0.0.1/32 encap gre5")
    assert info.value.position == 4
    assert info.value.expected == ("gre4", "gre6", "l3dsr", "nat4", "nat6")


def test_help_lists_every_command():
    for first_words in ("lb conf", "lb vip", "lb as", "lb flush vip", "show lb vips",
                        "show lb flows", "ip route add", "ip route del", "show ip route",
                        "show running-config", "test lb flowtable flush"):
        assert first_words in HELP


# ------------------------------------------------------------------- apply


def test_commands_apply_to_the_model():
    config = LbConfig()
    for line in [
        "lb conf ip4-src-address 192.0.2.1 timeout 30",
        "lb vip 90.0.0.0/8 encap gre4 new_len 16",
        "lb as 90.0.0.0/8 10.0.0.1 10.0.0.2",
        "lb as 90.0.0.0/8 10.0.0.2 weight 50",
        "ip route add 10.0.0.0/8 via 02:00:00:00:00:01 port 1",
    ]:
        parse(line).apply(config)
    vip = config.vip(V("90.0.0.0/8"))
    assert [a.weight for a in vip.sorted_ases()] == [100, 50]
    assert config.conf.timeout == 30 and len(config.routes()) == 1
    (gone,) = parse("lb as 90.0.0.0/8 10.0.0.1 del flush").apply(config)
    assert gone.state is State.REMOVED
    assert parse("lb flush vip 90.0.0.0/8").apply(config) is vip
    parse("ip route del 10.0.0.0/8").apply(config)
    assert parse("lb vip 90.0.0.0/8 del").apply(config).state is State.REMOVED
    assert config.vips() == [] and config.routes() == []


# -------------------------------------------------------------- completion


@pytest.mark.parametrize(
    "line,words",
    [
        ("", ["help", "ip", "lb", "show", "test"]),
        ("test lb ", ["flowtable"]),
        ("sh l ", ["flows", "vips"]),
        ("lb vip 10.0.0.1/32 en ", ["gre4", "gre6", "l3dsr", "nat4", "nat6"]),
        ("l", ["lb"]),
        ("lb ", ["as", "conf", "flush", "health-check", "vip"]),
        ("lb c", ["conf"]),
        ("lb conf ", ["buckets", "buckets-log2", "hc4-src-address", "hc6-src-address",
                      "ip4-src-address", "ip6-src-address", "pending-timeout", "timeout"]),
        ("lb conf timeout 5 ", ["buckets", "buckets-log2", "hc4-src-address",
                                "hc6-src-address", "ip4-src-address", "ip6-src-address",
                                "pending-timeout"]),
        ("lb health-check 10.0.0.1/32 on_down ", ["drain", "flush"]),
        ("lb vip 10.0.0.1/32 encap ", ["gre4", "gre6", "l3dsr", "nat4", "nat6"]),
        ("lb vip 10.0.0.1/32 encap n", ["nat4", "nat6"]),
        ("lb vip 10.0.0.1/32 protocol ", ["tcp", "udp"]),
        ("lb vip 10.0.0.1/32 type ", ["clusterip", "nodeport"]),
        ("lb vip 10.0.0.1/32 new_len ", []),
        ("lb vip 10.0.0.1/32 src", ["src_ip_sticky"]),
        ("lb as 10.0.0.1/32 10.1.0.1 ", ["del", "flush", "port", "protocol", "weight"]),
        ("show lb ", ["flows", "vips"]),
        ("show lb vips ", ["verbose"]),
        ("show lb vips verbose ", []),
        ("ip route add 10.0.0.0/8 ", ["port", "src-mac", "via"]),
        ("lb vip 10.0.0.1/33 ", []),  # an error earlier in the line: nothing to offer
        ("bogus ", []),
    ],
)
def test_complete_offers_the_next_words(line, words):
    assert complete(line) == words


def test_complete_offers_configured_vips_and_ases():
    config = LbConfig()
    parse("lb vip 90.0.0.0/8 encap gre4").apply(config)
    parse("lb vip 2002::/16 encap gre6").apply(config)
    parse("lb as 90.0.0.0/8 10.0.0.1 10.0.0.2").apply(config)
    assert complete("lb as ", config) == ["2002::/16", "90.0.0.0/8"]
    assert complete("lb flush vip 9", config) == ["90.0.0.0/8"]
    assert complete("lb as 90.0.0.0/8 10.0.0.", config) == ["10.0.0.1", "10.0.0.2"]
    assert complete("lb as ") == []


# ----------------------------------------------------------------- fuzzing

_WORDS = (
    "lb conf vip as flush show ip route add replace del help vips flows verbose test "
    "flowtable en gre p d "
    "running-config protocol tcp udp port encap gre4 gre6 l3dsr nat4 nat6 dscp type "
    "clusterip nodeport target_port new_len src_ip_sticky weight via src-mac "
    "ip4-src-address ip6-src-address buckets buckets-log2 timeout "
    "10.0.0.1/32 10.0.0.1 2001:db8::1 2001:db8::/32 02:00:00:00:00:01 0 1 80 64 1024 -1 "
    "99999999999999999999 x /32 ::"
).split()

_lines = st.lists(
    st.one_of(st.sampled_from(_WORDS), st.text(min_size=1, max_size=8).filter(str.strip)),
    max_size=12,
).map(" ".join)


@given(_lines)
@settings(max_examples=300, deadline=None)
def test_any_line_parses_or_raises_parse_error_and_never_crashes(line):
    try:
        command = parse(line)
    except ParseError as e:
        assert str(e)
        return
    config = LbConfig()
    if hasattr(command, "apply"):
        try:
            command.apply(config)
        except LbConfigError as e:
            assert str(e)


@given(_lines, st.booleans())
@settings(max_examples=300, deadline=None)
def test_completion_never_crashes(line, trailing_space):
    words = complete(line + (" " if trailing_space else ""))
    assert words == sorted(set(words))
