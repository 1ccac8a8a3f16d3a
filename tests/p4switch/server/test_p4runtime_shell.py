"""p4runtime-shell works against the server unchanged."""

import p4runtime_sh.shell as sh
from frames import MAC_B, ethernet
from switch_harness import DEVICE_ID


def test_shell_pushes_the_pipeline_inserts_and_reads(switch, features):
    sh.setup(device_id=DEVICE_ID, grpc_addr=switch.address, election_id=(0, 1),
             config=sh.FwdPipeConfig(str(features.p4info_path), str(features.json_path)),
             verbose=False)
    try:
        entry = sh.TableEntry("SrvIngress.dmac")(action="SrvIngress.forward")
        entry.match["hdr.ethernet.dst"] = "00:00:00:00:00:bb"
        entry.action["port"] = "3"
        entry.insert()
        acl = sh.TableEntry("SrvIngress.acl")(action="SrvIngress.drop")
        acl.match["hdr.ethernet.ether_type"] = "0x0800&&&0xffff"
        acl.priority = 10
        acl.insert()
        found = list(sh.TableEntry("SrvIngress.dmac").read())
        assert len(found) == 1
        assert found[0].match["hdr.ethernet.dst"].exact.value == b"\xbb"
        assert found[0].action["port"].value == b"\x03"
        switch.send(1, ethernet(MAC_B))
        assert switch.next_frame()[0] == 3
        counter = sh.CounterEntry("SrvIngress.port_counter")
        counter.index = 1
        assert [c.data.packet_count for c in counter.read()] == [1]
        entry.delete()
        assert list(sh.TableEntry("SrvIngress.dmac").read()) == []
    finally:
        sh.teardown()
