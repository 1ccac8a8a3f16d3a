"""A switch port on a Linux interface, through a raw AF_PACKET socket (BMv2 ``-i``).

The socket sees every frame on the interface (ETH_P_ALL), including the ones
this process sends; those come back marked PACKET_OUTGOING and are skipped, as
a switch port must not receive its own output.
"""

from __future__ import annotations

import errno
import logging
import select
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MAX_FRAME = 65536 + 64
POLL_SECONDS = 0.2  # how soon the receive thread notices close()
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>; not exported by Python's socket module
SO_SNDBUFFORCE = 32
SOL_PACKET = 263
PACKET_STATISTICS = 6  # struct tpacket_stats {tp_packets, tp_drops}


@dataclass
class AfPacketCounters:
    received: int = 0
    sent: int = 0
    send_errors: int = 0
    kernel_drops: int = 0  # frames the kernel dropped because the switch was behind


class AfPacketPort:
    def __init__(self, port: int, interface: str, deliver: Callable[[int, bytes], None]) -> None:
        self.port = port
        self.interface = interface
        self._deliver = deliver
        self.counters = AfPacketCounters()
        self._closed = False
        try:
            self._socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                         socket.htons(ETH_P_ALL))
        except PermissionError:
            raise OSError(f"port {port}: a raw socket on {interface} needs root "
                          "(CAP_NET_RAW)") from None
        # Bursts arrive faster than Python processes them: a deep receive buffer keeps
        # them from being dropped by the kernel before the switch sees them.
        for option, force in ((socket.SO_RCVBUF, SO_RCVBUFFORCE), (socket.SO_SNDBUF,
                                                                  SO_SNDBUFFORCE)):
            try:
                self._socket.setsockopt(socket.SOL_SOCKET, force, SOCKET_BUFFER_BYTES)
            except OSError:  # not root: the size the system allows
                self._socket.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_BYTES)
        try:
            self._socket.bind((interface, 0))
        except OSError as e:
            self._socket.close()
            raise OSError(f"port {port}: cannot open interface {interface}: "
                          f"{e.strerror or e}") from None
        self._thread = threading.Thread(target=self._receive_loop,
                                        name=f"afpacket-{interface}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.read_kernel_drops()
        if self.counters.kernel_drops:
            log.warning("port %d (%s): the kernel dropped %d received frames", self.port,
                        self.interface, self.counters.kernel_drops)
        self._socket.close()

    def read_kernel_drops(self) -> int:
        """Add the kernel's drop count since the last call (PACKET_STATISTICS resets it)."""
        try:
            raw = self._socket.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        except OSError:
            return self.counters.kernel_drops
        _, drops = struct.unpack("II", raw)
        self.counters.kernel_drops += drops
        return self.counters.kernel_drops

    def transmit(self, frame: bytes) -> None:
        try:
            self._socket.send(frame)
            self.counters.sent += 1
        except OSError as e:
            self.counters.send_errors += 1
            if self.counters.send_errors == 1 or e.errno not in (errno.ENETDOWN, errno.ENXIO):
                log.warning("port %d (%s): sending a %d-byte frame failed: %s", self.port,
                            self.interface, len(frame), e)

    def _receive_loop(self) -> None:
        sock = self._socket
        while not self._closed:
            try:
                ready, _, _ = select.select([sock], [], [], POLL_SECONDS)
                if not ready:
                    continue
                frame, address = sock.recvfrom(MAX_FRAME)
            except OSError as e:
                if self._closed:
                    return
                log.warning("port %d (%s): receive failed: %s", self.port, self.interface, e)
                continue
            if address[2] == PACKET_OUTGOING:
                continue
            self.counters.received += 1
            try:
                self._deliver(self.port, frame)
            except Exception:
                log.exception("port %d: processing a received frame failed", self.port)
