"""User-space GRE decapsulation for application-server hosts.

The kernels this project runs on have no GRE devices, so an AS host runs this
agent instead: raw IPPROTO_GRE sockets receive the LB's GRE4/GRE6 packets,
the outer IP and GRE headers are stripped, and the inner packet is written to
a TUN device, i.e. handed to the host's stack as if it had arrived on an
interface. The service (bound to the VIP, which the host holds on `lo`)
answers the client directly: direct server return, as with VPP's lb.

    python -m topo.gre_decap [--tun p4lb-gre] [--count-file PATH]

Run it inside the AS host's network namespace; it creates the TUN device,
brings it up and turns off reverse-path filtering on it (the inner source is
a client that is not routed via the TUN).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

IPPROTO_GRE = 47
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
GRE_FLAG_CSUM = 0x8000
GRE_FLAG_KEY = 0x2000
GRE_FLAG_SEQ = 0x1000
ETHERTYPES = (0x0800, 0x86DD)


def gre_payload(gre: bytes) -> bytes | None:
    """The inner packet of a GRE packet (header first), or None if not IP-over-GRE."""
    if len(gre) < 4:
        return None
    flags, proto = struct.unpack_from("!HH", gre)
    if flags & 0x0007:  # version must be 0
        return None
    if proto not in ETHERTYPES:
        return None
    offset = 4
    offset += 4 if flags & GRE_FLAG_CSUM else 0
    offset += 4 if flags & GRE_FLAG_KEY else 0
    offset += 4 if flags & GRE_FLAG_SEQ else 0
    inner = gre[offset:]
    if not inner or inner[0] >> 4 != (4 if proto == 0x0800 else 6):
        return None
    return inner


def ipv4_payload(packet: bytes) -> bytes:
    """AF_INET raw sockets deliver the outer IPv4 header; strip it (options included)."""
    ihl = (packet[0] & 0x0F) * 4
    return packet[ihl:]


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    for conf in ("all", name):
        Path(f"/proc/sys/net/ipv4/conf/{conf}/rp_filter").write_text("0\n")
    return fd


def serve(tun_name: str, count_file: Path | None) -> int:
    tun = open_tun(tun_name)
    sel = selectors.DefaultSelector()
    s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_GRE)
    sel.register(s4, selectors.EVENT_READ, 4)
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_GRE)
        sel.register(s6, selectors.EVENT_READ, 6)
    except OSError:
        s6 = None  # a host without IPv6 still decapsulates GRE4
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    decapsulated = dropped = 0
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            data = key.fileobj.recv(65535)  # type: ignore[union-attr]
            # IPv6 raw sockets never include the IPv6 header; IPv4 ones do.
            gre = ipv4_payload(data) if key.data == 4 else data
            inner = gre_payload(gre)
            if inner is None:
                dropped += 1
                continue
            os.write(tun, inner)
            decapsulated += 1
        if count_file is not None:
            count_file.write_text(f"{decapsulated} {dropped}\n")
    os.close(tun)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gre_decap", description=__doc__.splitlines()[0])
    parser.add_argument("--tun", default="p4lb-gre")
    parser.add_argument("--count-file", type=Path)
    args = parser.parse_args(argv)
    return serve(args.tun, args.count_file)


if __name__ == "__main__":
    sys.exit(main())
