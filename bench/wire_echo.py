"""The packet harness's own ceiling: a peer that sends every frame straight back.

    python -m bench.wire_echo ipc://PATH

It listens where a switch's ``--packet-in`` would and answers each PACKET_IN
with a PACKET_OUT of the same frame, doing no work in between. Packets/s
through it is the most bench/packet_rate.py can measure on this machine;
switch figures close to it are bound by the harness, not by the switch.
"""

from __future__ import annotations

import sys

import pynng

from tests.integration.lb_fixture import NN_HEADER, NN_PACKET_IN, NN_PACKET_OUT


def serve(address: str) -> None:
    with pynng.Pair0(listen=address) as sock:
        print(f"listening on {address}", flush=True)  # the harness dials after this line
        while True:
            message = sock.recv()
            kind, port, length = NN_HEADER.unpack_from(message)
            if kind == NN_PACKET_IN:
                sock.send(NN_HEADER.pack(NN_PACKET_OUT, port, length) + message[NN_HEADER.size:])


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].startswith(("ipc://", "tcp://")):
        print("usage: python -m bench.wire_echo ipc://PATH", file=sys.stderr)
        return 2
    try:
        serve(argv[0])
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
