"""Run inside a network namespace by test_afpacket_port.py (not a test itself).

    afpacket_probe.py P4INFO JSON

The switch gets ports 1@sw1 and 2@sw2; the probe sends a frame into h1 (sw1's
veth peer) and expects it out of h2. Prints the received frame count."""

import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from frames import MAC_B, ethernet  # noqa: E402
from p4rt_client import P4Names, load_p4info  # noqa: E402

from p4switch.p4runtime import Device  # noqa: E402
from p4switch.p4runtime.proto import p4runtime_pb2  # noqa: E402
from p4switch.ports import PortSet  # noqa: E402


def raw(iface: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    s.settimeout(10)
    return s


def main() -> None:
    p4info = load_p4info(Path(sys.argv[1]))
    names = P4Names(p4info)
    device = Device(0, 255)
    ports = PortSet(device.receive_packet)
    ports.add_interface(1, "sw1")
    ports.add_interface(2, "sw2")
    device.set_transmit(ports.transmit)
    config = p4runtime_pb2.ForwardingPipelineConfig(
        p4info=p4info, p4_device_config=Path(sys.argv[2]).read_bytes())
    device.set_pipeline(p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
                        config)
    request = p4runtime_pb2.WriteRequest()
    request.updates.add(type=p4runtime_pb2.Update.INSERT).entity.table_entry.CopyFrom(
        names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=2))
    assert device.write(request) == [None]
    ports.start()
    h1, h2 = raw("h1"), raw("h2")
    received = 0
    for n in range(2):
        frame = ethernet(MAC_B, payload=b"probe-%d" % n + bytes(40))
        h1.send(frame)
        while True:
            got = h2.recv(2048)
            if got == frame:
                received += 1
                break
    # the switch must not take its own output on sw2 for input
    assert ports.interfaces[2].counters.received == 0, ports.interfaces[2].counters
    assert ports.interfaces[1].read_kernel_drops() == 0
    ports.close()
    device.close()
    print(f"received {received}")


main()
