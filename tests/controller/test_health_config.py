"""Health checks as configuration: grammar, rules, persistence, running-config."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from controller.cli_grammar import HealthCheckCommand, ParseError, parse
from controller.lb_config_document import from_json, to_commands, to_json
from controller.lb_model import LbConfig, LbConfigError, make_vip_key
from controller.lb_values import DownAction, HealthCheck
from controller.show_format import render_running_config

V = make_vip_key


def build(*lines: str) -> LbConfig:
    config = LbConfig()
    for line in lines:
        parse(line).apply(config)
    return config


BASE = ("lb conf ip4-src-address 192.0.2.1 hc4-src-address 192.0.2.99",
        "lb vip 10.0.0.1/32 protocol tcp port 80 encap gre4",
        "lb as 10.0.0.1/32 protocol tcp port 80 10.1.0.1 10.1.0.2")


def test_health_check_grammar_with_every_option():
    cmd = parse("lb health-check 10.0.0.0/24 protocol tcp port 80 check_port 8080 "
                "address 10.0.0.7 interval 0.5 timeout 0.25 rise 3 fall 4 on_down flush "
                "flap_window 0")
    assert cmd == HealthCheckCommand(V("10.0.0.0/24", "tcp", 80), HealthCheck(
        8080, ip_address("10.0.0.7"), 500, 250, 3, 4, DownAction.FLUSH, 0))
    assert parse("lb health-check 10.0.0.1/32 protocol tcp port 80").check == HealthCheck()
    assert parse("lb h 10.0.0.1/32 pro t po 80 d") == HealthCheckCommand(
        V("10.0.0.1/32", "tcp", 80), None)
    assert parse("lb h 10.0.0.1/32 ch 80 i 1.25 on_down d").check.interval_ms == 1250


@pytest.mark.parametrize(
    "line,message",
    [
        ("lb health-check 10.0.0.1/32 interval 0", "interval 0s "
                                                   "is out of range 0.1-3600s"),
        ("lb health-check 10.0.0.1/32 interval 1.2345", "interval '1.2345' is not a number of "
                                                        "seconds like 2 or 0.5"),
        ("lb health-check 10.0.0.1/32 interval .5", "is not a number of seconds"),
        ("lb health-check 10.0.0.1/32 interval 5.", "is not a number of seconds"),
        ("lb health-check 10.0.0.1/32 timeout 1e3", "is not a number of seconds"),
        ("lb health-check 10.0.0.1/32 rise 0", "rise 0 is out of range 1-100"),
        ("lb health-check 10.0.0.1/32 fall 101", "fall 101 is out of range 1-100"),
        ("lb health-check 10.0.0.1/32 on_down kill", "unknown on_down 'kill', expected one of "
                                                     "drain, flush"),
        ("lb health-check 10.0.0.1/32 check_port 0", "check_port 0 is out of range 1-65535"),
        ("lb health-check 10.0.0.1/32 address ten", "address 'ten' is not an IPv4 or IPv6"),
        ("lb health-check 10.0.0.1/32 rise 2 del", "'rise' does not go with 'del'"),
        ("lb health-check 10.0.0.1/32 rise 2 rise 3", "'rise' is given twice"),
    ],
)
def test_health_check_grammar_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse(line)


def test_health_check_is_set_replaced_and_deleted():
    config = build(*BASE, "lb health-check 10.0.0.1/32 protocol tcp port 80 rise 5")
    vip = config.vip(V("10.0.0.1/32", "tcp", 80))
    assert vip.health.rise == 5 and vip.probe_target() == (ip_address("10.0.0.1"), 80)
    parse("lb health-check 10.0.0.1/32 protocol tcp port 80 check_port 81").apply(config)
    assert vip.health.rise == 2 and vip.probe_target() == (ip_address("10.0.0.1"), 81)
    parse("lb health-check 10.0.0.1/32 protocol tcp port 80 del").apply(config)
    assert vip.health is None
    with pytest.raises(LbConfigError, match="has no health check"):
        parse("lb health-check 10.0.0.1/32 protocol tcp port 80 del").apply(config)


@pytest.mark.parametrize(
    "lines,line,message",
    [
        (BASE[1:], "lb health-check 10.0.0.1/32 protocol tcp port 80",
         "health checks of IPv4 VIPs need 'lb conf hc4-src-address <addr>' first"),
        (BASE, "lb health-check 10.0.0.1/32 protocol tcp port 80 timeout 3",
         "timeout 3s is longer than interval 2s"),
        (BASE, "lb health-check 10.0.0.1/32 protocol tcp port 80 address 10.0.0.2",
         "address 10.0.0.2 is not in VIP prefix 10.0.0.1/32"),
        (BASE, "lb health-check 10.0.0.9/32", "VIP 10.0.0.9/32 does not exist"),
        (BASE + ("lb vip 10.0.0.2/32",), "lb health-check 10.0.0.2/32",
         "give 'check_port N', the TCP port the ASs answer on"),
        (BASE + ("lb vip 10.0.0.3/32 protocol udp port 53",),
         "lb health-check 10.0.0.3/32 protocol udp port 53", "give 'check_port N'"),
        (BASE, "lb vip 192.0.2.0/24", "VIP 192.0.2.0/24 contains the health-check source "
                                      "192.0.2.99"),
        (BASE, "lb conf hc4-src-address 10.0.0.1", "health-check source 10.0.0.1 is inside VIP "
                                                   "10.0.0.1/32 protocol tcp port 80"),
        (BASE, "ip route add 192.0.2.99/32 via 02:00:00:00:00:01 port 1",
         "route 192.0.2.99/32 is the health-check source"),
        (BASE[1:] + ("ip route add 192.0.2.99/32 via 02:00:00:00:00:01 port 1",),
         "lb conf hc4-src-address 192.0.2.99", "route 192.0.2.99/32 exists"),
        (BASE, "ip route add 10.9.0.0/16 via 02:00:00:00:00:01 port 510",
         "port 510 is the switch's CPU port"),
        (BASE, "lb conf hc6-src-address 192.0.2.1", "hc6-src-address 192.0.2.1 is not an IPv6"),
    ],
)
def test_health_check_rules(lines, line, message):
    config = build(*lines)
    before = to_json(config)
    with pytest.raises(LbConfigError, match=message):
        parse(line).apply(config)
    assert to_json(config) == before  # refused: nothing changed


def test_deleting_the_vip_deletes_its_check_and_a_revival_has_none():
    config = build(*BASE, "lb health-check 10.0.0.1/32 protocol tcp port 80")
    vip = config.vip(V("10.0.0.1/32", "tcp", 80))
    config.set_flow_count(next(iter(vip.ases.values())).as_id, 2)
    parse("lb vip 10.0.0.1/32 protocol tcp port 80 del").apply(config)
    assert vip.health is None
    parse("lb vip 10.0.0.1/32 protocol tcp port 80").apply(config)
    assert vip.health is None


def test_health_checks_are_saved_and_replayed():
    config = build(*BASE, "lb conf hc6-src-address 2001:db8::99",
                   "lb health-check 10.0.0.1/32 protocol tcp port 80 interval 0.5 timeout 0.2 "
                   "fall 2 on_down flush flap_window 10 address 10.0.0.1")
    again = from_json(to_json(config))
    assert to_json(again) == to_json(config)
    lines = to_commands(config)
    assert lines[0] == ("lb conf ip4-src-address 192.0.2.1 hc4-src-address 192.0.2.99 "
                        "hc6-src-address 2001:db8::99")
    assert ("lb health-check 10.0.0.1/32 protocol tcp port 80 address 10.0.0.1 interval 0.5 "
            "timeout 0.2 fall 2 on_down flush flap_window 10") in lines
    replayed = build(*render_running_config(config).splitlines())
    assert to_commands(replayed) == lines


def test_an_unhealthy_as_gets_no_buckets_but_stays_configured():
    config = build(*BASE)
    vip = config.vip(V("10.0.0.1/32", "tcp", 80))
    a, b = vip.sorted_ases()
    a.healthy = False
    assert vip.bucket_counts() == {a.address: 0, b.address: 1024}
    assert "lb as 10.0.0.1/32 protocol tcp port 80 10.1.0.1 10.1.0.2" in to_commands(config)
    assert '"healthy"' not in to_json(config)
