"""Packets per second of a switch process, end to end through its nanomsg packet port.

Frames go in and come out over the same socket PTF uses (tests' PacketWire),
so the figure includes the switch's packet I/O, as a user of the switch sees
it. The sender keeps at most ``window`` frames inside the switch: BMv2 drops
frames when its input queue is full, the embedded switch when its output
buffer is, and a closed loop measures the forwarding rate rather than the
drop rate. A frame that never comes out (dropped) frees its window slot when
the receive times out, and is counted as lost.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pynng

from tests.integration.lb_fixture import NN_HEADER, NN_PACKET_IN, NN_PACKET_OUT, PacketWire

# Far below a Unix socket's default buffer (~200 KB, less after per-message overhead).
WINDOW_BYTES = 48 * 1024


@dataclass(frozen=True)
class RateResult:
    sent: int
    received: int
    lost: int
    seconds: float
    out_bytes: int  # bytes of the frames that came out (GRE adds 24 per frame)

    @property
    def packets_per_s(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0


def measure_rate(
    wire: PacketWire,
    port: int,
    frames: list[bytes],
    seconds: float = math.inf,
    count: int | None = None,
    window: int = 128,
    stall_s: float = 1.0,
) -> RateResult:
    """Sends frames round-robin for `seconds` or `count` frames, counting those that come out.

    A frame still inside after `stall_s` without any output is taken as lost.
    The window also holds at most WINDOW_BYTES of frames: the sender does not
    read while it fills the window, and a peer that blocks on sending to it
    (BMv2, the echo peer) would otherwise fill the socket buffers both ways
    and deadlock with it.
    """
    if not frames:
        raise ValueError("no frames to send")
    if count is None and math.isinf(seconds):
        raise ValueError("give seconds or count")
    limit = count if count is not None else math.inf
    window = max(1, min(window, WINDOW_BYTES // max(len(f) for f in frames)))
    messages = [NN_HEADER.pack(NN_PACKET_IN, port, len(f)) + f for f in frames]
    sock = wire.sock
    saved_timeout = sock.recv_timeout
    sock.recv_timeout = int(stall_s * 1000)
    sent = received = lost = out_bytes = 0
    n = len(messages)
    start = time.perf_counter()
    deadline = start + seconds
    sending = True
    try:
        while True:
            while sending and sent - received - lost < window:
                sock.send(messages[sent % n])
                sent += 1
                if sent >= limit or (sent % 64 == 0 and time.perf_counter() >= deadline):
                    sending = False
            if not sending and sent == received + lost:
                break
            try:
                msg = sock.recv()
            except pynng.Timeout:
                lost = sent - received  # whatever is still inside is not coming out
                continue
            kind, _port, length = NN_HEADER.unpack_from(msg)
            if kind == NN_PACKET_OUT:
                received += 1
                out_bytes += length
                if lost and sent - received < lost:
                    lost -= 1  # a frame given up for lost came out after all
                if sending and received % 64 == 0 and time.perf_counter() >= deadline:
                    sending = False
    finally:
        sock.recv_timeout = saved_timeout
    elapsed = time.perf_counter() - start
    return RateResult(sent, received, lost, elapsed, out_bytes)
