"""Saving and restoring the configuration (JSON) and recreating it with CLI commands."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.cli_grammar import parse
from controller.lb_config_document import (
    ConfigDocumentError,
    from_document,
    from_json,
    to_commands,
    to_document,
    to_json,
)
from controller.lb_model import LbConfig, LbConfigError, State, make_vip_key

SCRIPT = [
    "lb conf ip4-src-address 192.0.2.1 ip6-src-address 2001:db8::1 buckets 2048 timeout 60",
    "lb vip 10.0.0.0/24 protocol tcp port 80 encap nat4 type clusterip target_port 8080",
    "lb as 10.0.0.0/24 protocol tcp port 80 10.1.0.1 10.1.0.2",
    "lb as 10.0.0.0/24 protocol tcp port 80 10.1.0.3 weight 50",
    "lb vip 10.0.0.0/24 protocol udp port 53 encap nat4 type nodeport target_port 5353",
    "lb vip 10.9.0.1/32 encap l3dsr dscp 12 new_len 64",
    "lb as 10.9.0.1/32 10.2.0.1",
    "lb vip 2001:db8:1::/64 encap gre4 new_len 256 src_ip_sticky",
    "lb as 2001:db8:1::/64 10.3.0.1 10.3.0.2 weight 0",
    "lb vip 2001:db8:2::1/128 protocol udp port 53 encap nat6 type clusterip target_port 53",
    "lb as 2001:db8:2::1/128 protocol udp port 53 2001:db8::a",
    "ip route add 10.1.0.0/16 via 02:00:00:00:00:01 port 1",
    "ip route add 2001:db8::/32 via 02:00:00:00:00:02 port 2 src-mac 02:00:00:00:00:f2",
]


def build(lines=SCRIPT) -> LbConfig:
    config = LbConfig()
    for line in lines:
        parse(line).apply(config)
    return config


def with_draining() -> LbConfig:
    config = build()
    vip = config.vip(make_vip_key("10.0.0.0/24", "tcp", 80))
    a = vip.ases[next(iter(vip.ases))]
    config.set_flow_count(a.as_id, 3)
    config.del_as(vip.key, [a.address])
    dsr = config.vip(make_vip_key("10.9.0.1/32"))
    for b in dsr.ases.values():
        config.set_flow_count(b.as_id, 1)
    config.del_vip("10.9.0.1/32")
    return config


def test_commands_replay_to_the_same_configuration():
    config = build()
    commands = to_commands(config)
    assert to_commands(build(commands)) == commands
    assert to_document(build(commands)) == to_document(config)


def test_commands_spell_out_the_configuration_readably():
    commands = to_commands(build())
    assert commands[0] == ("lb conf ip4-src-address 192.0.2.1 ip6-src-address 2001:db8::1 "
                           "buckets 2048 timeout 60")
    assert "lb as 10.0.0.0/24 protocol tcp port 80 10.1.0.1 10.1.0.2" in commands
    assert "lb as 2001:db8:1::/64 10.3.0.1 10.3.0.2 weight 0" in commands
    assert "lb vip 10.9.0.1/32 encap l3dsr dscp 12 new_len 64" in commands
    assert commands[-1] == ("ip route add 2001:db8::/32 via 02:00:00:00:00:02 port 2 "
                            "src-mac 02:00:00:00:00:f2")


def test_default_configuration_has_no_commands():
    assert to_commands(LbConfig()) == []


def test_draining_objects_are_not_running_config():
    commands = to_commands(with_draining())
    assert not any("10.9.0.1" in c for c in commands)
    assert "lb as 10.0.0.0/24 protocol tcp port 80 10.1.0.2" in commands


def test_json_round_trip_keeps_ids_and_draining_states():
    config = with_draining()
    restored = from_json(to_json(config))
    assert to_json(restored) == to_json(config)
    dsr = restored.vip(make_vip_key("10.9.0.1/32"))
    assert dsr.state is State.DRAINING
    original_ids = {(v.vip_id, a.as_id, str(a.address)) for v in config.vips()
                    for a in v.ases.values()}
    assert original_ids == {(v.vip_id, a.as_id, str(a.address)) for v in restored.vips()
                            for a in v.ases.values()}


def test_restored_configuration_keeps_allocating_after_the_saved_ids():
    config = build()
    last = config.as_id_pool.last
    restored = from_json(to_json(config))
    vip = restored.vip(make_vip_key("10.9.0.1/32"))
    (a,) = restored.add_as(vip.key, ["10.2.0.9"])
    assert a.as_id == last + 1


def test_drained_objects_are_collected_after_restore_once_flows_are_known():
    restored = from_json(to_json(with_draining()))
    removed = restored.collect_drained()
    assert {str(a.address) for a in removed} == {"10.1.0.1", "10.2.0.1"}
    assert make_vip_key("10.9.0.1/32") not in {v.key for v in restored.vips()}


def document() -> dict:
    return to_document(with_draining())


def mutate(path: list, value) -> dict:
    doc = copy.deepcopy(document())
    target = doc
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    "doc,message",
    [
        ([], "document: expected an object"),
        (mutate(["format"], "vpp"), "format: expected 'p4lb-config'"),
        (mutate(["version"], 2), "version: 2 is not supported"),
        (mutate(["version"], True), "version: True has the wrong type"),
        (mutate(["conf"], KeyError), "conf: missing"),
        (mutate(["conf", "buckets"], 0), "conf: buckets 0 is not a power of two"),
        (mutate(["conf", "ip4_src"], "2001:db8::1"), "conf: ip4-src-address 2001:db8::1 is not"),
        (mutate(["vips", 0, "ases", 0, "weight"], 101),
         r"vips\[0\]\.ases\[0\]: weight 101 is out of range 0-100"),
        (mutate(["vips", 0, "ases", 0, "weight"], "heavy"),
         r"vips\[0\]\.ases\[0\]\.weight: 'heavy' has the wrong type"),
        (mutate(["vips", 0, "ases", 0, "address"], "10.1.0.300"),
         r"vips\[0\]\.ases\[0\]: AS address '10.1.0.300' is not"),
        (mutate(["vips", 0, "ases", 0, "state"], "removed"),
         r"vips\[0\]\.ases\[0\]\.state: 'removed' is never saved"),
        (mutate(["vips", 0, "ases", 1, "id"], 1), r"vips\[0\]: AS id 1 is used twice"),
        (mutate(["vips", 1, "id"], 1), r"vips\[1\]: VIP id 1 is used twice"),
        (mutate(["vips", 0, "encap"], "gre5"), r"vips\[0\]: unknown encap 'gre5'"),
        (mutate(["vips", 0, "encap"], "gre6"), r"vips\[0\]: type clusterip only applies to "
                                               r"encap nat4\|nat6"),
        (mutate(["vips", 0, "new_len"], 1000), r"vips\[0\]: new_len 1000 is not a power of two"),
        (mutate(["vips", 0, "prefix"], "10.0.0.1/24"), r"vips\[0\]: VIP prefix 10.0.0.1/24 has "
                                                       r"host bits set"),
        (mutate(["vips", 0, "ases", 0, "address"], "2001:db8::5"),
         r"vips\[0\]: AS 2001:db8::5 is IPv6 but VIP"),
        (mutate(["vips", 3, "state"], "draining"), r"vips\[3\]\.ases\[0\]\.state: a draining VIP "
                                                   r"has only draining ASs"),
        (mutate(["routes", 0, "port"], 999), r"routes\[0\]: port 999 is out of range 0-510"),
        (mutate(["routes", 0, "next_hop_mac"], None), r"routes\[0\]\.next_hop_mac: None has the "
                                                      r"wrong type"),
        (mutate(["last_as_id"], -1), "last AS id -1 is out of range"),
    ],
)
def test_bad_documents_are_reported_by_field(doc, message):
    with pytest.raises(ConfigDocumentError, match=message):
        from_document(doc)


def test_half_written_file_is_reported_not_loaded():
    text = to_json(with_draining())
    with pytest.raises(ConfigDocumentError, match="not a JSON document"):
        from_json(text[: len(text) // 2])
    with pytest.raises(ConfigDocumentError, match="not a JSON document"):
        from_json(b"\xff\xfe")


def test_document_is_plain_json_with_a_schema_version():
    doc = json.loads(to_json(build()))
    assert doc["format"] == "p4lb-config" and doc["version"] == 1
    assert doc["vips"][0]["ases"][0] == {"address": "10.1.0.1", "id": 1, "state": "used",
                                         "weight": 100}


# ------------------------------------------- random command sequences (hypothesis)

_prefixes = st.sampled_from(["10.0.0.1/32", "10.0.0.0/24", "2001:db8:1::/64"])
_as4 = st.sampled_from(["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"])
_as6 = st.sampled_from(["2001:db8::a", "2001:db8::b"])
_key = st.tuples(_prefixes, st.sampled_from(["", " protocol tcp port 80",
                                             " protocol udp port 53"])).map("".join)
_vip_line = st.tuples(
    _key,
    st.sampled_from(["", " encap gre4", " encap gre6", " encap l3dsr dscp 3",
                     " encap nat4 target_port 8080", " encap nat6", " encap nat4 type nodeport"]),
    st.sampled_from(["", " new_len 8", " new_len 16 src_ip_sticky", " del"]),
).map(lambda t: "lb vip " + "".join(t))
_as_line = st.tuples(
    _key,
    st.lists(st.one_of(_as4, _as6), min_size=1, max_size=3),
    st.sampled_from(["", " weight 0", " weight 30", " del", " del flush"]),
).map(lambda t: f"lb as {t[0]} {' '.join(t[1])}{t[2]}")
_other_line = st.sampled_from([
    "lb conf ip4-src-address 192.0.2.1", "lb conf timeout 9 buckets 64",
    "lb flush vip 10.0.0.1/32", "lb flush vip 10.0.0.0/24 protocol tcp port 80",
    "ip route add 10.1.0.0/16 via 02:00:00:00:00:01 port 1",
    "ip route replace 10.1.0.0/16 via 02:00:00:00:00:02 port 2",
    "ip route del 10.1.0.0/16",
])
_step = st.one_of(
    _vip_line, _as_line, _other_line,
    st.tuples(st.integers(1, 8), st.integers(0, 3)),  # the flow tracker reports (id, count)
)


@given(st.lists(_step, max_size=25))
@settings(max_examples=150, deadline=None)
def test_any_command_sequence_keeps_the_model_consistent_and_restorable(steps):
    config = LbConfig()
    for step in steps:
        try:
            if isinstance(step, tuple):
                config.set_flow_count(*step)
            else:
                parse(step).apply(config)
        except LbConfigError:
            pass
    # The saved document restores to the same configuration.
    assert to_json(from_json(to_json(config))) == to_json(config)
    # The running config replays to the same live configuration.
    commands = to_commands(config)
    assert to_commands(build(commands)) == commands
    for vip in config.vips():
        counts = vip.bucket_counts()
        live_weight = sum(a.weight for a in vip.ases.values() if a.live)
        assert sum(counts.values()) == (vip.new_len if live_weight else 0)
        assert all(a.address.version == vip.encap.as_version for a in vip.ases.values())
        if vip.state is State.DRAINING:
            assert vip.ases and all(a.state is State.DRAINING for a in vip.ases.values())
        for a in vip.ases.values():
            assert config.as_by_id(a.as_id) == (vip, a)
