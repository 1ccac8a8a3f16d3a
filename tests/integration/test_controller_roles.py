"""The controller as one of several on a switch: backup while another is primary,
and primary again with everything it was told in the meantime."""

from __future__ import annotations

from controller.switch_session import Role, SwitchAddress, SwitchSession
from tests.integration.lb_fixture import LB_JSON, lb_p4info, wait_for
from tests.integration.test_controller_on_switch import SETUP, client_syn, send_and_receive

OTHER_VIP = "10.0.0.2"


def other_controller(rig, election_id: int = 50) -> SwitchSession:
    """A second controller on the rig's switch with a higher election id: it becomes
    primary and the rig's controller a backup."""
    other = SwitchSession(SwitchAddress(rig.switch.grpc_addr), lb_p4info(), LB_JSON.read_bytes(),
                          election_id=election_id)
    other.start()
    return other


def test_a_command_taken_while_backup_reaches_the_switch_once_primary_again(rig) -> None:
    """Issue 16, defect 7: a command accepted while another controller was primary
    was in the configuration but never reached the switch until the next command."""
    rig.run(*SETUP)
    ours = next(iter(rig.service.dataplane.sessions.values()))
    other = other_controller(rig)
    try:
        assert other.wait_ready(20)
        wait_for(lambda: ours.role is Role.BACKUP)
        answer = rig.run(f"lb vip {OTHER_VIP}/32 encap gre4", f"lb as {OTHER_VIP}/32 10.1.0.9")
        assert "backup" in answer and "written when this controller is its primary" in answer
        assert "backup, election id 1 (primary: election id 50)" in rig.run("show lb")
        assert len(rig.reader.table("vip4")) == 1  # the primary did not write it
    finally:
        other.stop()
    # Nothing else is typed: becoming primary again is enough.
    assert wait_for(lambda: len(rig.reader.table("vip4")) == 2, timeout=15)
    assert len(rig.reader.table("as_encap")) == 4  # three ASs of SETUP and the new one
    assert "primary, election id 1" in rig.run("show lb")


def test_a_demoted_controller_forgets_the_flows_the_new_primary_ages(rig) -> None:
    """While another controller owns the switch, flows age there without us; when
    we are primary again we adopt what the switch holds, not what we remembered."""
    rig.run(*SETUP)
    send_and_receive(rig, client_syn(43000))
    assert wait_for(lambda: len(rig.reader.table("flow4")) == 1)
    ours = next(iter(rig.service.dataplane.sessions.values()))
    other = other_controller(rig)
    try:
        assert other.wait_ready(20)
        assert wait_for(lambda: ours.role is Role.BACKUP)
        assert len(rig.service.dataplane.learner) == 0
        # The other controller (a bare session: it learns nothing) deletes the flow.
        (flow,) = rig.reader.table("flow4")
        codec = rig.service.dataplane.codec
        other.write([codec.update(3, flow)])
    finally:
        other.stop()
    assert wait_for(lambda: ours.connected.is_set(), timeout=15)
    assert rig.reader.table("flow4") == []  # not written back from memory
    assert len(rig.service.dataplane.learner) == 0
