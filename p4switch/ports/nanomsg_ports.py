"""Ports carried over one nanomsg PAIR socket: PTF's ``nn`` platform, as BMv2's
``--packet-in`` speaks it (bm_sim/dev_mgr_packet_in.cpp).

Every message starts with three little-endian int32: message type, port, and
``more`` (the frame length for packets, a status or info type otherwise); a
packet's frame follows. PTF dials the socket (pynng Pair0) and sends
PACKET_IN for frames entering the switch; the switch answers PACKET_OUT for
frames leaving it. PTF's INFO_REQ (MAC address, counters) gets BMv2's answer:
INFO_REP with status "not supported". Port add/remove/status messages are
recorded but, as BMv2 does by default, not enforced.

Unlike BMv2, which trusts ``more``, a message whose frame is shorter than
``more`` says, or too short to hold a header (an empty one too), is dropped
and counted.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pynng

log = logging.getLogger(__name__)

HEADER = struct.Struct("<iii")

MSG_PORT_ADD = 0
MSG_PORT_REMOVE = 1
MSG_PORT_SET_STATUS = 2
MSG_PACKET_IN = 3
MSG_PACKET_OUT = 4
MSG_INFO_REQ = 5
MSG_INFO_REP = 6
INFO_STATUS_NOT_SUPPORTED = 1

MAX_MESSAGE_BYTES = 1 << 20
SEND_BUFFER_MESSAGES = 1024  # frames queued for a slow (or absent) PTF before drops
# Frames nng reads ahead for the receive loop. Without it (nng's default 0) each
# recv waits for nng's I/O thread to read the next frame and hand it over: two
# thread wake-ups per frame, which cost more CPU than the frame's P4 program.
RECV_BUFFER_MESSAGES = 256


@dataclass
class NanomsgCounters:
    received: int = 0
    sent: int = 0
    malformed: int = 0  # too short, or shorter than its declared length
    unexpected: int = 0  # unknown message types, or PACKET_OUT / INFO_REP sent to us
    send_dropped: int = 0  # nobody reading and the send buffer full


class NanomsgPorts:
    """All ports of the switch that live on one ``ipc://`` or ``tcp://`` socket."""

    def __init__(self, address: str, deliver: Callable[[int, bytes], None]) -> None:
        self.address = address
        self._deliver = deliver
        self.counters = NanomsgCounters()
        self.ports: dict[int, bool] = {}  # port -> up, as PTF announced them
        self._socket = pynng.Pair0(recv_max_size=MAX_MESSAGE_BYTES,
                                   recv_buffer_size=RECV_BUFFER_MESSAGES,
                                   send_buffer_size=SEND_BUFFER_MESSAGES)
        try:
            self._socket.listen(address)
        except pynng.NNGException as e:
            self._socket.close()
            raise OSError(f"cannot listen on {address}: {e}") from None
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(target=self._receive_loop, name="nanomsg-ports",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._socket.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def transmit(self, port: int, frame: bytes) -> None:
        message = HEADER.pack(MSG_PACKET_OUT, port, len(frame)) + frame
        self._send(message)

    def _send(self, message: bytes) -> None:
        try:
            with self._send_lock:
                self._socket.send(message, block=False)
            self.counters.sent += 1
        except pynng.TryAgain:
            self.counters.send_dropped += 1
        except pynng.Closed:
            pass

    def _receive_loop(self) -> None:
        while True:
            try:
                # recv, not recv_msg: cffi drops the GIL around every nng call,
                # and recv_msg's Message makes six of them per frame where
                # recv makes two; each one let a busy thread take the GIL.
                message = self._socket.recv()
            except pynng.Closed:
                return
            except RuntimeError:
                # recv() unpacks an empty message's NULL buffer and raises after
                # nng handed the message over (it once ended this loop).
                self.counters.malformed += 1
                continue
            except Exception as e:  # noqa: BLE001 - the port outlives any one message
                log.warning("nanomsg receive on %s failed: %s", self.address, e)
                continue
            try:
                self._handle(message)
            except Exception:
                log.exception("handling a nanomsg message failed")

    def _handle(self, message: bytes) -> None:
        if len(message) < HEADER.size:
            self.counters.malformed += 1
            return
        msg_type, port, more = HEADER.unpack_from(message)
        if msg_type == MSG_PACKET_IN:
            frame = message[HEADER.size:]
            if more < 0 or more > len(frame):
                self.counters.malformed += 1
                return
            self.counters.received += 1
            self._deliver(port, frame[:more])
        elif msg_type == MSG_PORT_ADD:
            self.ports.setdefault(port, True)
        elif msg_type == MSG_PORT_REMOVE:
            self.ports.pop(port, None)
        elif msg_type == MSG_PORT_SET_STATUS:
            if port in self.ports:
                self.ports[port] = more == 0  # PTF: 0 = up, 1 = down
        elif msg_type == MSG_INFO_REQ:
            reply = HEADER.pack(MSG_INFO_REP, port, more) + struct.pack(
                "<i", INFO_STATUS_NOT_SUPPORTED)
            self._send(reply)
        else:
            self.counters.unexpected += 1
