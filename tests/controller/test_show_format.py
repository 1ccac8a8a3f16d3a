"""What `show` prints: VPP-like text from the model and the measured values given."""

from __future__ import annotations

from controller.cli_grammar import parse
from controller.lb_model import LbConfig
from controller.show_format import (
    FlowRow,
    LbStatus,
    SwitchStatus,
    VipCounters,
    render_flows,
    render_help,
    render_routes,
    render_running_config,
    render_show_lb,
    render_vips,
)


def build(*lines: str) -> LbConfig:
    config = LbConfig()
    for line in lines:
        parse(line).apply(config)
    return config


def demo() -> LbConfig:
    return build(
        "lb conf ip4-src-address 192.0.2.1 timeout 30",
        "lb vip 90.0.0.0/8 encap gre4 new_len 16",
        "lb as 90.0.0.0/8 10.0.0.1 10.0.0.2",
        "lb as 90.0.0.0/8 10.0.0.3 weight 50",
        "lb vip 10.9.0.1/32 protocol tcp port 80 encap nat4 target_port 8080",
        "lb vip 10.8.0.1/32 encap l3dsr dscp 12",
        "ip route add 10.0.0.0/8 via 02:00:00:00:00:01 port 1",
        "ip route add 2001:db8::/32 via 02:00:00:00:00:02 port 2 src-mac 02:00:00:00:00:f2",
    )


def test_show_lb_gives_settings_and_sizes():
    text = render_show_lb(demo(), tracked_flows=12)
    assert text.splitlines() == [
        "lb_main ip4-src-address: 192.0.2.1",
        " ip6-src-address: not set",
        " #vips: 3",
        " #ass: 3",
        " timeout: 30s",
        " pending-timeout: 2000ms",
        " usage: 12 flows / 1024 buckets",
    ]


def test_show_lb_vips_is_one_line_per_vip():
    lines = render_vips(demo()).splitlines()
    assert lines == [
        "ip4-l3dsr [3] 10.8.0.1/32 dscp:12 new_size:1024 #as:0",
        "ip4-nat4 [2] 10.9.0.1/32 protocol:tcp port:80 type:clusterip target_port:8080 "
        "new_size:1024 #as:0",
        "ip4-gre4 [1] 90.0.0.0/8 new_size:16 #as:3",
    ]


def test_show_lb_vips_verbose_has_counters_and_one_line_per_as():
    config = demo()
    text = render_vips(config, verbose=True, counters={1: VipCounters(100, 7, 2, 1)},
                       as_packets={1: 40})
    block = text.split("ip4-gre4 [1] 90.0.0.0/8\n", 1)[1].splitlines()
    assert block == [
        "  new_size:16",
        "  counters:",
        "    packet from existing sessions: 100",
        "    first session packet: 7",
        "    untracked packet: 2",
        "    no server configured: 1",
        "    pending flow collision: 0",
        "  #as:3",
        "    10.0.0.1 [1]  weight 100  7 buckets  0 flows  used  40 packets",
        "    10.0.0.2 [2]  weight 100  6 buckets  0 flows  used",
        "    10.0.0.3 [3]  weight 50   3 buckets  0 flows  used",
    ]


def test_missing_counters_say_so_instead_of_zero():
    text = render_vips(demo(), verbose=True, counters=None)
    assert text.count("counters: not available") == 3
    text = render_vips(demo(), verbose=True, counters={1: VipCounters()})
    assert text.count("counters: not available") == 2
    assert "    packet from existing sessions: 0" in text


def test_draining_as_and_vip_are_visible_with_their_flows():
    config = demo()
    vip = config.vips()[-1]
    a = vip.sorted_ases()[0]
    config.set_flow_count(a.as_id, 5)
    parse("lb as 90.0.0.0/8 10.0.0.1 del").apply(config)
    text = render_vips(config, verbose=True)
    assert "    10.0.0.1 [1]  weight 100  0 buckets   5 flows  draining" in text
    assert "    10.0.0.2 [2]  weight 100  11 buckets  0 flows  used" in text
    assert "    10.0.0.3 [3]  weight 50   5 buckets   0 flows  used" in text
    parse("lb vip 90.0.0.0/8 del").apply(config)
    assert "ip4-gre4 [1] 90.0.0.0/8 new_size:16 #as:1 draining (5 flows)" in render_vips(config)


def test_nothing_configured_is_said_plainly():
    assert render_vips(LbConfig()) == "no VIPs configured"
    assert render_routes(LbConfig()) == "no routes configured"
    assert render_flows(LbConfig(), []) == "no tracked flows"
    assert render_running_config(LbConfig()) == ""


def test_flows_are_listed_with_their_vip_and_as():
    config = demo()
    text = render_flows(config, [
        FlowRow(1, "tcp 192.0.2.9:40001 -> 90.0.0.1:80", 2),
        FlowRow(1, "tcp 192.0.2.9:40000 -> 90.0.0.1:80", 1),
        FlowRow(7, "udp 192.0.2.9:5 -> 10.7.0.1:53", 99),
    ])
    assert text.splitlines() == [
        "vip                flow                                as",
        "[1] 90.0.0.0/8     tcp 192.0.2.9:40000 -> 90.0.0.1:80  10.0.0.1 [1] used",
        "[1] 90.0.0.0/8     tcp 192.0.2.9:40001 -> 90.0.0.1:80  10.0.0.2 [2] used",
        "[7] (removed VIP)  udp 192.0.2.9:5 -> 10.7.0.1:53      [99] (removed AS)",
        "3 flows",
    ]


def test_flow_listing_stops_at_the_limit_and_says_how_to_narrow_it():
    config = demo()
    rows = [FlowRow(1, f"tcp 192.0.2.9:{40000 + i} -> 90.0.0.1:80", 1) for i in range(5)]
    lines = render_flows(config, rows, limit=2).splitlines()
    assert len(lines) == 4
    assert lines[-1] == "(showing 2 of 5 flows; narrow it with 'show lb flows vip <prefix>')"


def test_routes_are_a_table():
    assert render_routes(demo()).splitlines() == [
        "prefix         port  via                src-mac",
        "10.0.0.0/8     1     02:00:00:00:00:01  -",
        "2001:db8::/32  2     02:00:00:00:00:02  02:00:00:00:00:f2",
    ]


def test_running_config_replays_to_itself():
    text = render_running_config(demo())
    assert render_running_config(build(*text.splitlines())) == text


def test_help_is_the_grammar():
    assert render_help().splitlines()[0].startswith("lb conf [ip4-src-address A]")


def test_a_thousand_vips_render():
    config = LbConfig()
    for i in range(1000):
        vip = config.add_vip(f"10.{i // 256}.{i % 256}.1/32", new_len=64)
        config.add_as(vip.key, [f"192.168.{i // 256}.{i % 256}", "172.16.0.1"])
    assert len(render_vips(config).splitlines()) == 1000
    assert len(render_vips(config, verbose=True).splitlines()) == 1000 * 6


def test_show_lb_adds_what_the_service_measured():
    status = LbStatus(tracked_flows=3, drops={"no route": (840, 7), "no server": (0, 0)},
                      flows_learned=5, flows_aged=2, install_failures=1, bad_messages=0,
                      pending_collisions=4, switches=(SwitchStatus("127.0.0.1:9559#0", True, True),
                                SwitchStatus("127.0.0.1:9560#1", False, False)))
    lines = render_show_lb(demo(), 3, status).splitlines()
    assert lines[7:] == [
        " drops no route: 7",
        " pending-flow collisions: 4",
        " flows learned 5, aged 2, install failures 1, undecodable switch messages 0",
        " switch 127.0.0.1:9559#0: connected (primary)",
        " switch 127.0.0.1:9560#1: connecting",
    ]


def test_show_lb_lists_health_checks_with_time_and_reason():
    check = {"vip": {"key": "10.0.0.1/32"},
             "check": {"address": "10.0.0.1", "port": 80, "source": "192.0.2.99",
                       "interval": 1.0, "timeout": 0.5, "rise": 2, "fall": 3,
                       "on_down": "drain", "flap_window": 60},
             "ases": [{"address": "10.1.0.1", "id": 4, "state": "down",
                       "since": "2026-01-02T03:04:05+00:00", "reason": "3 probes failed",
                       "rise_needed": 4, "probes": {"ok": 9, "refused": 0, "timeout": 3}}]}
    event = {"time": "2026-01-02T03:04:05+00:00", "vip": "10.0.0.1/32", "as": "10.1.0.1",
             "state": "down", "reason": "3 probes failed"}
    lines = render_show_lb(demo(), 0, LbStatus(health=[check], health_events=[event]))
    assert lines.splitlines()[-4:] == [
        " health-check 10.0.0.1/32: tcp 10.0.0.1 port 80 from 192.0.2.99, every 1s, timeout "
        "0.5s, rise 2, fall 3, on_down drain, flap_window 60s",
        "    10.1.0.1 [4] down since 2026-01-02T03:04:05+00:00: 3 probes failed, needs 4 "
        "successes (damped); probes ok 9, refused 0, timeout 3",
        " health events:",
        "    2026-01-02T03:04:05+00:00 10.0.0.1/32 10.1.0.1 down: 3 probes failed",
    ]
