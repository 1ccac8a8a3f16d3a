"""p4runtime-shell against tests/p4switch/p4/srv_features.p4, in two sessions.

    python srv_features.py program GRPC_ADDR P4INFO_TXT BMV2_JSON
    python srv_features.py check GRPC_ADDR

``program`` pushes the pipeline, inserts an exact and a ternary entry and
reads them back; ``check`` (a new session, P4Info fetched from the switch)
reads the port counter the test's packet hit, then deletes the entry.
Prints what it read, one line per value. Run in p4runtime-shell's
environment by tests/p4switch/server/test_p4runtime_shell.py.
"""

import sys

import p4runtime_sh.shell as sh


def program(grpc_addr, p4info, device_config):
    sh.setup(device_id=0, grpc_addr=grpc_addr, election_id=(0, 1),
             config=sh.FwdPipeConfig(p4info, device_config), verbose=False)
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
        print("dmac entries", len(found))
        print("dmac dst", found[0].match["hdr.ethernet.dst"].exact.value.hex())
        print("dmac port", found[0].action["port"].value.hex())
        print("acl entries", len(list(sh.TableEntry("SrvIngress.acl").read())))
    finally:
        sh.teardown()


def check(grpc_addr):
    sh.setup(device_id=0, grpc_addr=grpc_addr, election_id=(0, 1), verbose=False)
    try:
        counter = sh.CounterEntry("SrvIngress.port_counter")
        counter.index = 1
        print("port_counter[1] packets", [c.data.packet_count for c in counter.read()])
        entry = sh.TableEntry("SrvIngress.dmac")(action="SrvIngress.forward")
        entry.match["hdr.ethernet.dst"] = "00:00:00:00:00:bb"
        entry.delete()
        print("dmac entries", len(list(sh.TableEntry("SrvIngress.dmac").read())))
    finally:
        sh.teardown()


if __name__ == "__main__":
    {"program": program, "check": check}[sys.argv[1]](*sys.argv[2:])
