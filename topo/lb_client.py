"""A client that counts which AS served it.

    python -m topo.lb_client tcp VIP PORT COUNT     COUNT new connections, one GET each
    python -m topo.lb_client udp VIP PORT COUNT     COUNT datagrams from COUNT source ports
    python -m topo.lb_client hold VIP PORT SECONDS  one TCP connection, a line every 0.1 s
    python -m topo.lb_client churn VIP PORT SECONDS [RATE]
                                                new connections at RATE/s (default 60),
                                                each 3 line round trips, then closed

Prints one JSON object: {"served": {"as1": n, ...}, "failed": n}; `hold`
prints {"local_port": N} once connected, then {"served": {...}, "failed": 0|1,
"error": "..."}: a connection that
stuck to one AS throughout has one key in "served". `hold` ends early, with
its result, when it receives SIGTERM or SIGUSR1. `churn` prints
{"connections": n, "failed": n, "multi_as": n, "rate": r, "served": {...},
"errors": {...}}: "multi_as" counts connections answered by more than one AS.
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


def short_connection(vip: str, port: int, round_trips: int = 3) -> set[str]:
    """One TCP connection doing `round_trips` line exchanges; the ASs that answered."""
    answered = set()
    with socket.create_connection((vip, port), timeout=3) as s:
        reader = s.makefile("rb")
        for _ in range(round_trips):
            s.sendall(b"ping\n")
            line = reader.readline()
            if not line:
                raise ConnectionError("connection closed by the server")
            answered.add(line.decode().split("served-by ", 1)[1].strip())
    return answered


def churn(vip: str, port: int, seconds: float, rate: float = 60.0) -> int:
    """New connections at `rate`/s for `seconds`, from a few threads so a slow
    connection does not lower the rate."""
    lock = threading.Lock()
    served: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    counts = {"connections": 0, "failed": 0, "multi_as": 0}
    start = time.monotonic()
    tick = iter(range(1 << 62))

    def worker() -> None:
        while True:
            with lock:
                due = start + next(tick) / rate
            if due > start + seconds:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                answered = short_connection(vip, port)
                error = None
            except (OSError, IndexError) as e:
                answered, error = set(), f"{type(e).__name__}: {e}"
            with lock:
                counts["connections"] += 1
                if error:
                    counts["failed"] += 1
                    errors[error] += 1
                counts["multi_as"] += len(answered) > 1
                for name in answered:
                    served[name] += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    print(json.dumps({**counts, "rate": round(counts["connections"] / elapsed, 1),
                      "served": dict(sorted(served.items())), "errors": dict(errors)}))
    return 0 if counts["failed"] == 0 and counts["multi_as"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if args[:1] == ["churn"] and len(args) in (4, 5):
        return churn(args[1], int(args[2]), float(args[3]), *map(float, args[4:]))
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
