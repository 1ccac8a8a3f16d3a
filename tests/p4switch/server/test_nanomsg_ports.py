"""PTF's nanomsg packet protocol, spoken as BMv2 speaks it (--packet-in)."""

import struct

import pynng
import pytest
from frames import MAC_B, ethernet
from p4rt_client import WAIT, Update, update

from p4switch.ports.nanomsg_ports import NanomsgPorts

PACKET_IN, PACKET_OUT, INFO_REQ, INFO_REP = 3, 4, 5, 6

pytestmark = [pytest.mark.embedded_only("tests the embedded switch's nanomsg ports"),
              pytest.mark.in_process]


@pytest.fixture
def ptf_socket(loaded, tmp_path):
    """The switch's ports on ipc://, and a pynng Pair0 dialled as PTF does."""
    switch, c, names = loaded
    address = f"ipc://{tmp_path}/switch.ipc"
    ports = NanomsgPorts(address, switch.device.receive_packet)
    ports.start()
    switch.device.set_transmit(ports.transmit)
    ptf = pynng.Pair0(recv_timeout=int(WAIT * 1000), send_timeout=int(WAIT * 1000))
    ptf.dial(address, block=True)
    yield ptf, ports, c, names
    ptf.close()
    ports.close()


def test_packet_in_runs_the_pipeline_and_packet_out_comes_back(ptf_socket):
    ptf, _, c, names = ptf_socket
    c.write(update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=2)))
    frame = ethernet(MAC_B)
    ptf.send(struct.pack("<iii", PACKET_IN, 1, len(frame)) + frame)
    reply = ptf.recv()
    assert struct.unpack_from("<iii", reply) == (PACKET_OUT, 2, len(frame))
    assert reply[12:] == frame


def test_info_request_is_answered_not_supported(ptf_socket):
    ptf, _, _, _ = ptf_socket
    ptf.send(struct.pack("<iii", INFO_REQ, 1, 0))
    reply = ptf.recv()
    assert struct.unpack_from("<iiii", reply) == (INFO_REP, 1, 0, 1)


def test_malformed_messages_are_counted_and_the_port_keeps_working(ptf_socket):
    ptf, ports, c, names = ptf_socket
    c.write(update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=2)))
    frame = ethernet(MAC_B)
    ptf.send(b"\x03\x00")  # shorter than a header
    ptf.send(struct.pack("<iii", PACKET_IN, 1, len(frame) + 50) + frame)  # length lies
    ptf.send(struct.pack("<iii", 99, 1, 0))  # unknown type
    ptf.send(struct.pack("<iii", PACKET_IN, 1, len(frame)) + frame)
    reply = ptf.recv()
    assert reply[12:] == frame
    assert ports.counters.malformed == 2 and ports.counters.unexpected == 1


def test_listening_twice_on_one_address_fails_cleanly(tmp_path):
    address = f"ipc://{tmp_path}/one.ipc"
    first = NanomsgPorts(address, lambda port, frame: None)
    try:
        with pytest.raises(OSError) as e:
            NanomsgPorts(address, lambda port, frame: None)
        assert address in str(e.value)
    finally:
        first.close()


def test_an_empty_message_is_counted_and_forwarding_goes_on(ptf_socket):
    # pynng's recv() raises RuntimeError on a zero-length message; the receive
    # loop once died on it and every later frame was lost.
    ptf, ports, c, names = ptf_socket
    c.write(update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=2)))
    frame = ethernet(MAC_B)
    ptf.send(b"")
    ptf.send(struct.pack("<iii", PACKET_IN, 1, len(frame)) + frame)
    reply = ptf.recv()
    assert reply[12:] == frame
    assert ports.counters.malformed == 1
