"""Packet I/O of the embedded switch: where frames enter and leave.

``port_set`` maps port numbers to sockets: ``afpacket_port`` (a Linux
interface, ``-i PORT@IFACE``) and ``nanomsg_ports`` (PTF's nanomsg protocol,
``--packet-in ipc://PATH``).
"""

from p4switch.ports.port_set import PortSet

__all__ = ["PortSet"]
