"""A client that counts which AS served it.

    python -m topo.lb_client tcp VIP PORT COUNT     COUNT new connections, one GET each
    python -m topo.lb_client udp VIP PORT COUNT     COUNT datagrams from COUNT source ports
    python -m topo.lb_client hold VIP PORT SECONDS  one TCP connection, a line every 0.1 s

Prints one JSON object: {"served": {"as1": n, ...}, "failed": n}; `hold`
prints {"local_port": N} once connected, then {"served": {...}, "failed": 0|1,
"error": "..."}: a connection that
stuck to one AS throughout has one key in "served". `hold` ends early, with
its result, when it receives SIGTERM or SIGUSR1.
"""

from __future__ import annotations

import collections
import json
import signal
import socket
import sys
import threading
import time


def tcp_request(vip: str, port: int, timeout: float = 3.0) -> str:
    with socket.create_connection((vip, port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data.decode().rsplit("served-by ", 1)[1].strip()


def udp_request(vip: str, port: int, timeout: float = 3.0) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(b"hello", (vip, port))
        data, _ = s.recvfrom(2048)
    return data.decode().split("served-by ", 1)[1].strip()


def hold(vip: str, port: int, seconds: float) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, lambda *_: stop.set())
    served: collections.Counter[str] = collections.Counter()
    error = ""
    try:
        with socket.create_connection((vip, port), timeout=3) as s:
            print(json.dumps({"local_port": s.getsockname()[1]}), flush=True)
            reader = s.makefile("rb")
            deadline = time.monotonic() + seconds
            while not stop.is_set() and time.monotonic() < deadline:
                s.sendall(b"ping\n")
                line = reader.readline()
                if not line:
                    raise ConnectionError("connection closed by the server")
                served[line.decode().split("served-by ", 1)[1].strip()] += 1
                stop.wait(0.1)
    except (OSError, IndexError) as e:
        error = f"{type(e).__name__}: {e}"
    print(json.dumps({"served": dict(served), "failed": int(bool(error)), "error": error}),
          flush=True)
    return 0 if not error else 1


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 4 or args[0] not in ("tcp", "udp", "hold"):
        print(__doc__, file=sys.stderr)
        return 2
    if args[0] == "hold":
        return hold(args[1], int(args[2]), float(args[3]))
    proto, vip, port, count = args[0], args[1], int(args[2]), int(args[3])
    request = tcp_request if proto == "tcp" else udp_request
    served: collections.Counter[str] = collections.Counter()
    failed = 0
    errors: collections.Counter[str] = collections.Counter()
    for _ in range(count):
        try:
            served[request(vip, port)] += 1
        except (OSError, IndexError) as e:
            failed += 1
            errors[f"{type(e).__name__}: {e}"] += 1
    print(json.dumps({"served": dict(sorted(served.items())), "failed": failed,
                      "errors": dict(errors)}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
