"""-i PORT@IFACE: frames pass through the switch between two veth pairs, in a
network namespace of the test's own (needs root and iproute2)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2"),
    pytest.mark.embedded_only("tests the embedded switch's AF_PACKET ports"),
]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def netns():
    name = f"p4lb-srv-{os.getpid()}"
    ip("netns", "add", name)
    try:
        run = ["ip", "netns", "exec", name]
        subprocess.run([*run, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1"], check=True)
        for sw, host in (("sw1", "h1"), ("sw2", "h2")):
            ip("-n", name, "link", "add", sw, "type", "veth", "peer", "name", host)
            ip("-n", name, "link", "set", sw, "up")
            ip("-n", name, "link", "set", host, "up")
        yield run
    finally:
        ip("netns", "del", name)


def test_frame_crosses_the_switch_between_interfaces(netns, features):
    result = subprocess.run([*netns, sys.executable, str(HERE / "afpacket_probe.py"),
                             str(features.p4info_path), str(features.json_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "received 2"
