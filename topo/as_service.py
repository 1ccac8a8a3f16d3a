"""The service an application-server host runs: says who served the request.

    python -m topo.as_service NAME [--tcp PORT ...] [--udp PORT ...]

TCP: answers an HTTP/1.0 GET (or any line) with "served-by NAME" and keeps
the connection open for more lines, so a long-lived connection shows which
AS it stuck to. UDP: answers every datagram with "served-by NAME". It binds
0.0.0.0, so it answers on the VIP (held on lo, reached by GRE or L3DSR) and
on the host's own address (reached by NAT) alike.
"""

from __future__ import annotations

import argparse
import signal
import socket
import socketserver
import sys
import threading


class _Tcp(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        name = self.server.name  # type: ignore[attr-defined]
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            if line.startswith(b"GET "):
                body = f"served-by {name}\n".encode()
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
                                 + body)
                return
            self.wfile.write(f"served-by {name}\n".encode())


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve_udp(port: int, name: str, stop: threading.Event) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.5)
    while not stop.is_set():
        try:
            _data, peer = s.recvfrom(2048)
        except TimeoutError:
            continue
        s.sendto(f"served-by {name}\n".encode(), peer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="as_service")
    parser.add_argument("name")
    parser.add_argument("--tcp", type=int, action="append", default=[])
    parser.add_argument("--udp", type=int, action="append", default=[])
    args = parser.parse_args(argv)
    stop = threading.Event()
    servers = []
    for port in args.tcp:
        srv = _TcpServer(("0.0.0.0", port), _Tcp)
        srv.name = args.name  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    for port in args.udp:
        threading.Thread(target=serve_udp, args=(port, args.name, stop), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for srv in servers:
        srv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
