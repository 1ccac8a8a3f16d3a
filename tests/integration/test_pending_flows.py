"""The controller's side of pending flows, on a real switch running lb.p4.

The data plane picks a flow's AS at its first packet and keeps sending the
flow there until the entry is installed, so the controller installs the AS
a digest names even when that AS is draining, holds a drained AS for the
pending lifetime before collecting it, and forgets only flushed ASs.
"""

from __future__ import annotations

import ipaddress

from controller.p4runtime_codec import DigestBatch
from tests.integration.lb_fixture import wait_for
from tests.integration.test_controller_on_switch import SETUP, VIP

CLIENT = "10.9.0.5"


def digest(rig, as_id: int, sport: int) -> DigestBatch:
    """flow_digest_t as lb.p4 sends it for a TCP flow CLIENT:sport -> VIP:80."""
    vip_id = rig.service.config.vips()[0].vip_id
    members = [(4, 1), (vip_id, 2), (int(ipaddress.ip_address(CLIENT)), 16),
               (int(ipaddress.ip_address(VIP)), 16), (6, 1), (sport, 2), (80, 2), (as_id, 2)]
    schema = rig.service.dataplane.schema
    return DigestBatch(schema.digest_id("flow_digest_t"), sport,
                       [[v.to_bytes(n, "big") for v, n in members]])


def as_id_of(rig, address: str) -> int:
    vip = rig.service.config.vips()[0]
    return vip.ases[ipaddress.ip_address(address)].as_id


def flow_as(rig, sport: int) -> int | None:
    for e in rig.reader.table("flow4"):
        if e.key[4] == sport:
            return e.params[0]
    return None


def test_a_digest_naming_a_draining_as_is_installed_and_a_flushed_one_is_not(rig) -> None:
    rig.run(*SETUP)
    session = next(iter(rig.service.dataplane.sessions.values()))
    learner = rig.service.dataplane.learner
    draining = as_id_of(rig, "10.1.0.1")
    rig.run(f"lb as {VIP}/32 10.1.0.1 del")
    learner.handle_digest(session, digest(rig, draining, 41000))
    assert wait_for(lambda: flow_as(rig, 41000) == draining), "the draining AS lost its flow"
    shown = rig.run("show lb vips verbose")
    line = next(x for x in shown.splitlines() if x.strip().startswith("10.1.0.1 "))
    assert "1 flows" in line and "draining" in line, shown

    rig.run(f"lb as {VIP}/32 10.1.0.1 del flush")
    learner.handle_digest(session, digest(rig, draining, 41001))
    rig.run("show lb")  # a command round trip: the learner has handled the digest by now
    assert wait_for(lambda: flow_as(rig, 41001), timeout=1.0) is None
    assert flow_as(rig, 41000) is None, "flush left the flow behind"


def test_a_drained_as_without_flows_is_collected_after_the_pending_lifetime(rig) -> None:
    rig.run(*SETUP, "lb conf pending-timeout 300")
    rig.run(f"lb as {VIP}/32 10.1.0.2 del")
    assert "draining" in rig.run("show lb vips verbose"), "collected before its pending flows"
    assert wait_for(lambda: "10.1.0.2" not in rig.run("show lb vips verbose"), timeout=8), (
        "never collected")


def test_the_pending_lifetime_reaches_the_switch(rig) -> None:
    rig.run(*SETUP, "lb conf pending-timeout 750")
    entry = rig.reader.default_entry("pending_conf")
    assert int.from_bytes(entry.action.action.params[0].value, "big") == 750_000
    assert "pending-timeout 750" in rig.run("show running-config")
