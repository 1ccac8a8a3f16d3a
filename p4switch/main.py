"""``p4lb-switch``: the embedded switch daemon, with simple_switch_grpc's command line.

    p4lb-switch [JSON | --no-p4] [-i PORT@IFACE ...] [--packet-in ipc://PATH]
                [--device-id N] [--log-console] [--log-level LEVEL]
                [-- --grpc-server-addr ADDR --cpu-port N
                    --grpc-server-ssl --grpc-server-cert PEM --grpc-server-key PEM
                    [--grpc-server-cacert PEM [--grpc-server-with-client-auth]]]

simple_switch_grpc takes its gRPC options after ``--``; here they are accepted
on either side of it, so a script can start either switch by changing the
program name. It serves P4Runtime until SIGTERM or SIGINT, then stops cleanly
and exits 0. Bad arguments exit 2 (argparse), a switch that cannot start 1.

TLS takes simple_switch_grpc's options: --grpc-server-ssl with the server's
certificate and key; --grpc-server-cacert, the CA that client certificates
are verified against; --grpc-server-with-client-auth, mutual TLS (a client
without a certificate from that CA is refused). Where simple_switch_grpc
warns and serves in plaintext (certificates given without --grpc-server-ssl)
or verifies clients against no CA, this switch refuses to start.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import ssl
import sys
import threading
from pathlib import Path

import grpc

from p4switch.p4runtime import DEFAULT_ADDRESS, Device, P4RuntimeServer, ServerStartError
from p4switch.p4runtime.errors import P4RuntimeError
from p4switch.ports import PortSet

log = logging.getLogger("p4lb-switch")

# BMv2's log levels, and the closest Python ones.
LOG_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "off": logging.CRITICAL + 10,
}


def _interface(text: str) -> tuple[int, str]:
    port, sep, iface = text.partition("@")
    if not sep or not iface or not port.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not PORT@IFACE (e.g. 1@veth0)")
    return int(port), iface


def _socket_address(text: str) -> str:
    if not text.startswith(("ipc://", "tcp://")) or len(text) <= len("ipc://"):
        raise argparse.ArgumentTypeError(f"'{text}' is not an ipc://PATH or tcp://HOST:PORT "
                                         "nanomsg address")
    return text


def _grpc_address(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST:PORT")
    return text


def _non_negative(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p4lb-switch",
        description="Embedded P4 switch (BMv2 JSON, v1model) with a P4Runtime server; "
                    "command line as simple_switch_grpc.",
    )
    parser.add_argument("json", nargs="?", type=Path,
                        help="BMv2 JSON to forward with from the start (P4Runtime still "
                             "needs SetForwardingPipelineConfig)")
    parser.add_argument("--no-p4", action="store_true",
                        help="start without a program; wait for SetForwardingPipelineConfig")
    parser.add_argument("-i", "--interface", type=_interface, action="append", default=[],
                        metavar="PORT@IFACE", help="attach a Linux interface as a port")
    parser.add_argument("--packet-in", type=_socket_address, metavar="ADDR",
                        help="exchange packets with PTF over nanomsg (ipc://PATH)")
    parser.add_argument("--device-id", type=_non_negative, default=0)
    parser.add_argument("--log-console", action="store_true", help="log to stderr")
    parser.add_argument("-L", "--log-level", choices=sorted(LOG_LEVELS), default=None)
    parser.add_argument("--log-file", type=Path, help="log to this file")
    parser.add_argument("--thrift-port", type=int,
                        help="accepted for simple_switch_grpc compatibility; ignored")
    parser.add_argument("--grpc-server-addr", type=_grpc_address, default=DEFAULT_ADDRESS,
                        metavar="HOST:PORT", help=f"P4Runtime address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--cpu-port", type=_non_negative,
                        help="port for PacketIn / PacketOut (0: none, as BMv2)")
    tls = parser.add_argument_group("TLS for P4Runtime (simple_switch_grpc's options)")
    tls.add_argument("--grpc-server-ssl", action="store_true", help="serve P4Runtime over TLS")
    tls.add_argument("--grpc-server-cert", type=Path, metavar="PEM",
                     help="the server's certificate (chain)")
    tls.add_argument("--grpc-server-key", type=Path, metavar="PEM", help="its private key")
    tls.add_argument("--grpc-server-cacert", type=Path, metavar="PEM",
                     help="CA certificate(s) to verify client certificates against")
    tls.add_argument("--grpc-server-with-client-auth", action="store_true",
                     help="mutual TLS: refuse clients without a certificate from that CA")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    # simple_switch_grpc puts its target options after "--"; one parser takes both.
    if "--" in argv:
        cut = argv.index("--")
        argv = argv[:cut] + argv[cut + 1:]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.json is not None and args.no_p4:
        parser.error("give a JSON file or --no-p4, not both")
    if args.json is None and not args.no_p4:
        parser.error("give a JSON file, or --no-p4 to wait for a P4Runtime client")
    ports = [port for port, _ in args.interface]
    duplicates = sorted({p for p in ports if ports.count(p) > 1})
    if duplicates:
        parser.error(f"port {duplicates[0]} is given twice with -i")
    _check_tls_args(parser, args)
    return args


def _check_tls_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    files = [f"--grpc-server-{name}" for name in ("cert", "key", "cacert")
             if getattr(args, f"grpc_server_{name}") is not None]
    if not args.grpc_server_ssl:
        if files or args.grpc_server_with_client_auth:
            given = files + ["--grpc-server-with-client-auth"] * args.grpc_server_with_client_auth
            parser.error(f"{', '.join(given)} without --grpc-server-ssl would serve "
                         "P4Runtime in plaintext")
        return
    for name in ("cert", "key"):
        if getattr(args, f"grpc_server_{name}") is None:
            parser.error(f"--grpc-server-ssl needs --grpc-server-{name}")
    if args.grpc_server_with_client_auth and args.grpc_server_cacert is None:
        parser.error("--grpc-server-with-client-auth needs --grpc-server-cacert "
                     "(the CA client certificates must come from)")


def server_credentials(args: argparse.Namespace) -> grpc.ServerCredentials | None:
    """TLS credentials from the command line's PEM files; None without --grpc-server-ssl."""
    if not args.grpc_server_ssl:
        return None

    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as e:
            raise SystemExit(f"p4lb-switch: cannot read {path}: {e.strerror}") from None

    key, cert = read(args.grpc_server_key), read(args.grpc_server_cert)
    ca = read(args.grpc_server_cacert) if args.grpc_server_cacert is not None else None
    # gRPC only says "failed to bind" for a bad PEM; OpenSSL (via ssl) says what is wrong.
    check = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        check.load_cert_chain(args.grpc_server_cert, args.grpc_server_key)
    except ssl.SSLError as e:
        raise SystemExit(f"p4lb-switch: {args.grpc_server_cert} and {args.grpc_server_key} "
                         f"are not a certificate and its private key: {e}") from None
    if ca is not None:
        try:
            check.load_verify_locations(cadata=ca.decode("ascii", "replace"))
        except ssl.SSLError as e:
            raise SystemExit(f"p4lb-switch: {args.grpc_server_cacert} holds no CA "
                             f"certificate: {e}") from None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=args.grpc_server_with_client_auth)


def configure_logging(args: argparse.Namespace) -> None:
    level = LOG_LEVELS[args.log_level or ("info" if args.log_console else "warn")]
    handlers: list[logging.Handler] = []
    if args.log_console or args.log_file is None:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(level if args.log_console else logging.WARNING)
        handlers.append(console)
    if args.log_file is not None:
        handlers.append(logging.FileHandler(args.log_file))
    logging.basicConfig(level=level, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def load_program(path: Path) -> dict:
    try:
        return json.loads(path.read_bytes())
    except OSError as e:
        raise SystemExit(f"p4lb-switch: cannot read {path}: {e.strerror}") from None
    except ValueError as e:
        raise SystemExit(f"p4lb-switch: {path} is not BMv2 JSON: {e}") from None


def run(args: argparse.Namespace, stop: threading.Event) -> int:
    cpu_port = args.cpu_port or None
    device = Device(args.device_id, cpu_port)
    ports = PortSet(device.receive_packet)
    server = None
    try:
        try:
            for port, iface in args.interface:
                ports.add_interface(port, iface)
            if args.packet_in:
                ports.add_nanomsg(args.packet_in)
        except OSError as e:
            print(f"p4lb-switch: {e}", file=sys.stderr)
            return 1
        device.set_transmit(ports.transmit)
        if args.json is not None:
            try:
                device.load_startup_program(load_program(args.json))
            except P4RuntimeError as e:
                print(f"p4lb-switch: {args.json}: {e.message}", file=sys.stderr)
                return 1
        server = P4RuntimeServer(device, args.grpc_server_addr,
                                 credentials=server_credentials(args))
        try:
            server.start()
        except ServerStartError as e:
            print(f"p4lb-switch: {e}", file=sys.stderr)
            return 1
        ports.start()
        print(f"Server listening on {args.grpc_server_addr}", flush=True)
        while not stop.wait(1.0):
            pass
        log.info("stopping")
        return 0
    finally:
        if server is not None:
            server.stop(grace=0.5)
        ports.close()
        device.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args)
    if args.thrift_port is not None:
        log.info("--thrift-port %d ignored: this switch has no Thrift runtime", args.thrift_port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return run(args, stop)


if __name__ == "__main__":
    sys.exit(main())
