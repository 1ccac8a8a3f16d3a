"""The switch's ports: which port number leaves through which socket.

Ports given with ``-i PORT@IFACE`` are AF_PACKET sockets. With ``--packet-in``
every other port number lives on the nanomsg socket, as with BMv2, where PTF
decides which ports exist. A frame for a port that exists nowhere is dropped
and counted.
"""

from __future__ import annotations

from collections.abc import Callable

from p4switch.ports.afpacket_port import AfPacketPort
from p4switch.ports.nanomsg_ports import NanomsgPorts


class PortSet:
    def __init__(self, deliver: Callable[[int, bytes], None]) -> None:
        """``deliver(port, frame)`` runs a received frame through the switch."""
        self._deliver = deliver
        self.interfaces: dict[int, AfPacketPort] = {}
        self.nanomsg: NanomsgPorts | None = None
        self.dropped_no_port = 0

    def add_interface(self, port: int, interface: str) -> None:
        if port in self.interfaces:
            raise ValueError(f"port {port} is given twice")
        self.interfaces[port] = AfPacketPort(port, interface, self._deliver)

    def add_nanomsg(self, address: str) -> None:
        self.nanomsg = NanomsgPorts(address, self._deliver)

    def start(self) -> None:
        for port in self.interfaces.values():
            port.start()
        if self.nanomsg is not None:
            self.nanomsg.start()

    def transmit(self, port: int, frame: bytes) -> None:
        interface = self.interfaces.get(port)
        if interface is not None:
            interface.transmit(frame)
        elif self.nanomsg is not None:
            self.nanomsg.transmit(port, frame)
        else:
            self.dropped_no_port += 1

    def close(self) -> None:
        for port in self.interfaces.values():
            port.close()
        if self.nanomsg is not None:
            self.nanomsg.close()
