"""PacketOut / PacketIn through the StreamChannel, with the controller headers."""

import pytest
from frames import MAC_B, ethernet
from p4rt_client import Update, update

from p4switch.p4runtime.proto import code_pb2


def test_packet_out_leaves_by_the_port_its_header_names(loaded):
    switch, c, _ = loaded
    frame = ethernet(MAC_B)
    c.packet_out(frame, m1=b"\x04")
    assert switch.next_frame() == (4, frame)


def test_frame_sent_to_cpu_becomes_a_packet_in(loaded):
    switch, c, names = loaded
    c.write(update(Update.INSERT, table_entry=names.entry(
        "dmac", {"hdr.ethernet.dst": MAC_B}, "to_cpu", reason=3)))
    frame = ethernet(MAC_B)
    switch.send(6, frame)
    message = c.next("packet")
    assert message.packet.payload == frame
    assert {(m.metadata_id, m.value) for m in message.packet.metadata} == {
        (1, b"\x06"), (2, b"\x03")}


@pytest.mark.embedded_only("PI reports stream errors only when its ServerConfig says so")
def test_bad_packet_out_gets_a_stream_error_and_the_stream_lives_on(loaded):
    switch, c, _ = loaded
    c.packet_out(ethernet(MAC_B), m9=b"\x01")
    error = c.next("error").error
    assert error.canonical_code == code_pb2.INVALID_ARGUMENT
    assert "metadata id 9" in error.message
    assert error.packet_out.packet_out.payload == ethernet(MAC_B)
    c.packet_out(ethernet(MAC_B), m1=b"\x02\x00")  # 512 does not fit 9 bits
    assert c.next("error").error.canonical_code == code_pb2.INVALID_ARGUMENT
    c.packet_out(ethernet(MAC_B), m1=b"\x05")
    assert switch.next_frame()[0] == 5


@pytest.mark.embedded_only("PI drops a backup's PacketOut silently")
def test_backup_packet_out_is_refused(loaded):
    switch, primary, _ = loaded
    backup = switch.controller(election_id=(0, 0))
    backup.packet_out(ethernet(MAC_B), m1=b"\x04")
    assert backup.next("error").error.canonical_code == code_pb2.PERMISSION_DENIED
    primary.packet_out(ethernet(MAC_B), m1=b"\x05")
    assert switch.next_frame()[0] == 5
