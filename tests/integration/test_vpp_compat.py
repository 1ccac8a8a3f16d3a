"""VPP's own CLI habits against a real switch: delete and re-create back to back,
flush the whole flow table, and every show answered as data."""

from __future__ import annotations

import json

import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether

from controller.management_api import CommandError
from tests.integration.lb_fixture import wait_for
from tests.integration.test_controller_on_switch import (
    ASES,
    SETUP,
    VIP,
    client_syn,
    send_and_receive,
)


def test_deleting_and_re_adding_a_vip_back_to_back_revives_it(rig) -> None:
    rig.run(*SETUP)
    _, out = send_and_receive(rig, client_syn(41000))
    pinned = Ether(out)[IP].dst
    assert wait_for(lambda: rig.reader.table("flow4"))
    vip_id = rig.service.config.vips()[0].vip_id
    # VPP's test suite: delete, then create again at once, with other settings.
    rig.run(f"lb vip {VIP}/32 encap gre4 new_len 1024 del",
            f"lb vip {VIP}/32 encap gre4 new_len 64")
    vip = rig.service.config.vips()[0]
    assert vip.vip_id == vip_id and str(vip.state) == "used" and vip.new_len == 64
    (vip_entry,) = rig.reader.table("vip4")
    assert vip_entry.params[1] == 63  # new_len mask of the new setting
    # The old flow still reaches its (draining) AS; no bucket leads there.
    _, again = send_and_receive(rig, client_syn(41000))
    assert Ether(again)[IP].dst == pinned
    assert "no VIPs" not in rig.run("show lb vips")
    assert all(a.state.value == "draining" for a in vip.ases.values())
    assert rig.run(f"lb as {VIP}/32 {ASES[0]} {ASES[1]}") == ""
    buckets = {e.key[1] for e in rig.reader.table("maglev") if e.key[0] == vip_id}
    assert buckets == set(range(64))


def test_delete_with_a_contradicting_setting_is_refused_and_deletes_nothing(rig) -> None:
    rig.run(*SETUP)
    with pytest.raises(CommandError, match=r"does not match encap gre6 \(it has encap gre4\)"):
        rig.run(f"lb vip {VIP}/32 encap gre6 del")
    assert len(rig.reader.table("vip4")) == 1


def test_flowtable_flush_deletes_every_vips_flows_on_the_switch(rig) -> None:
    rig.run(*SETUP, "lb vip 10.0.0.2/32 encap gre4", "lb as 10.0.0.2/32 10.1.0.9")
    for sport in (42000, 42001, 42002):
        send_and_receive(rig, client_syn(sport))
    frame = Ether(client_syn(42004))
    frame[IP].dst = "10.0.0.2"
    del frame[IP].chksum
    send_and_receive(rig, bytes(frame))
    assert wait_for(lambda: len(rig.reader.table("flow4")) == 4)
    assert {k.vip_id for k, _ in rig.service.dataplane.learner.flows()} == {
        v.vip_id for v in rig.service.config.vips()}
    assert rig.run("test lb flowtable flush") == ""
    assert rig.reader.table("flow4") == []
    assert len(rig.service.dataplane.learner) == 0
    assert "no tracked flows" in rig.run("show lb flows")


def test_every_show_answers_json(rig) -> None:
    rig.run(*SETUP)
    for sport in (43000, 43001):
        send_and_receive(rig, client_syn(sport))
    assert wait_for(lambda: len(rig.service.dataplane.learner) == 2)
    ask = lambda line: json.loads(json.dumps(rig.service.execute(line, as_json=True)))  # noqa: E731

    lb = ask("show lb")
    assert lb["ip4_src_address"] == "192.0.2.1" and lb["vips"] == 1 and lb["ases"] == 3
    assert lb["tracked_flows"] == 2 and lb["flows_learned"] == 2 and lb["timeout"] == 2
    assert lb["switches"] == [{"switch": f"{rig.switch.grpc_addr}#0", "connected": True,
                               "primary": True, "role": "primary, election id 1"}]
    assert set(lb["drops"]) >= {"no route", "no server"}

    (vip,) = ask("sh lb vip verb")["vips"]
    assert vip["prefix"] == "10.0.0.1/32" and vip["encap"] == "gre4" and vip["new_len"] == 1024
    assert vip["counters"]["first_session"]["packets"] == 2
    assert vip["counters"]["existing_session"] == {"packets": 0, "bytes": 0}
    assert sorted(a["address"] for a in vip["ases"]) == ASES
    assert sum(a["buckets"] for a in vip["ases"]) == 1024
    assert sum(a["counters"]["packets"] for a in vip["ases"]) == 2
    assert sum(a["flows"] for a in vip["ases"]) == 2
    assert "counters" not in ask("show lb vips")["vips"][0]

    flows = ask(f"show lb flows vip {VIP}/32")
    assert flows["total"] == 2
    assert {(f["src"], f["src_port"], f["dst"], f["dst_port"], f["protocol"])
            for f in flows["flows"]} == {("10.9.0.5", p, VIP, 80, "tcp") for p in (43000, 43001)}
    assert all(f["as"] in ASES and f["as_state"] == "used" for f in flows["flows"])

    routes = ask("show ip route")["routes"]
    assert {"prefix": "10.1.0.0/16", "port": 1, "via": "02:00:00:00:01:01",
            "src_mac": None} in routes
    assert ask("show running-config")["commands"] == rig.run("show running-config").splitlines()
    assert any(c.startswith("test lb flowtable flush") for c in ask("help")["commands"])
    assert ask("lb as 10.0.0.1/32 10.1.0.7") == {"warnings": []}
