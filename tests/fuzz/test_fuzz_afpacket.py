"""Damaged frames into an AF_PACKET port (a veth in a network namespace of the
test's own; needs root and iproute2); a valid frame must cross right after.

The switch runs in this process on srv_features (dmac: MAC_B -> port 2). Its
ports' sockets, and the test's own, are made by a thread that entered the
namespace (setns), so nothing touches the host's interfaces.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from frames import MAC_B, ethernet
from hypothesis import given
from hypothesis import strategies as st
from switch_harness import program

from p4switch.p4runtime import Device
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.ports import PortSet
from tests.fuzz.conftest import examples
from tests.fuzz.mutations import damaged

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2"),
    pytest.mark.skipif(os.environ.get("TARGET", "embedded") != "embedded",
                       reason="the embedded switch's own AF_PACKET ports"),
]

CLONE_NEWNET = 0x40000000
_marks = itertools.count(1)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def in_namespace(name: str, make):
    """``make()`` run by a thread inside network namespace ``name``; its result."""
    result: list = []

    def run() -> None:
        fd = os.open(Path("/var/run/netns") / name, os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        result.append(make())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert result, "could not enter the namespace"
    return result[0]


def raw(iface: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    s.settimeout(0.2)
    return s


@pytest.fixture(scope="module")
def veths():
    name = f"p4lb-fuzz-{os.getpid()}"
    ip("netns", "add", name)
    device = ports = None
    try:
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw",
                        "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1"], check=True)
        for sw, host in (("sw1", "h1"), ("sw2", "h2")):
            ip("-n", name, "link", "add", sw, "type", "veth", "peer", "name", host)
            for link in (sw, host):
                ip("-n", name, "link", "set", link, "up")
        features = program("srv_features")
        device = Device(0, 255)
        ports = PortSet(device.receive_packet)

        def attach():
            ports.add_interface(1, "sw1")
            ports.add_interface(2, "sw2")
            return raw("h1"), raw("h2")

        h1, h2 = in_namespace(name, attach)
        device.set_transmit(ports.transmit)
        device.set_pipeline(
            p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
            p4runtime_pb2.ForwardingPipelineConfig(p4info=features.p4info,
                                                   p4_device_config=features.json))
        request = p4runtime_pb2.WriteRequest()
        request.updates.add(type=p4runtime_pb2.Update.INSERT).entity.table_entry.CopyFrom(
            features.names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=2))
        assert device.write(request) == [None]
        ports.start()
        yield h1, h2
        h1.close()
        h2.close()
    finally:
        if ports is not None:
            ports.close()
        if device is not None:
            device.close()
        ip("netns", "del", name)


frames = st.one_of(
    st.binary(max_size=13),  # runts
    st.binary(min_size=14, max_size=1514),
    st.just(ethernet(MAC_B, payload=bytes(46))).flatmap(damaged),
)


@examples(small=30)
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_damaged_frames_on_an_interface_never_stop_valid_traffic(veths, batch) -> None:
    h1, h2 = veths
    for frame in batch:
        try:
            h1.send(frame)
        except OSError:
            pass  # the kernel refused it (too short or too long for the link)
    mark = b"probe-%08d" % next(_marks)
    probe = ethernet(MAC_B, payload=mark + bytes(40))
    h1.send(probe)
    for _ in range(100):
        try:
            if h2.recv(2048) == probe:
                return
        except TimeoutError:
            continue
    raise AssertionError(f"{mark!r} did not cross the switch")
