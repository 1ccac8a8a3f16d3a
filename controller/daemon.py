"""p4lb-controller: the control-plane daemon.

    p4lb-controller --switch 127.0.0.1:9559 [--switch ADDR[#DEVICE_ID] ...]
                    [--socket /tmp/p4lb/controller.sock] [--state FILE]
                    [--p4info P --bmv2-json J] [--election-id N] [--config FILE]
                    [--metrics-addr HOST:PORT]
                    [--store etcd://HOST:PORT[,HOST:PORT...]]
                    [--switch-ca PEM] [--cert PEM --key PEM]

It refuses to start where another controller serves --socket, or when the
directory of --socket or --state belongs to someone else (a missing one is
created 0700). It restores the configuration from --state (refusing to start
on a corrupt file rather than replacing it), connects to every switch, reconciles their
tables with the configuration, learns and ages flows, and serves the
management API that lbctl talks to, and with --metrics-addr Prometheus
metrics on http://HOST:PORT/metrics. With --switch-ca (the CA that signed the
switches' certificates) and/or --cert/--key (the controller's own, for
switches that demand mutual TLS) it talks to every switch over TLS; the
switch certificates must name the address given with --switch. SIGTERM/SIGINT stop it cleanly; the
switches keep forwarding (and keep their flows) while it is away.

Several controllers may drive the same switches, each with its own
--election-id: the highest is primary, the others are backups that take over
when it goes. With --store they share one configuration in etcd (config_store)
and any of them takes commands; without it each keeps its own --state file.
"""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
import threading
from pathlib import Path

import grpc
from google.protobuf import text_format

from controller.config_store import EtcdConfigStore, StoreUnavailable, parse_store_url
from controller.lb_service import LbService, StateFileError
from controller.management_api import ManagementServer
from controller.metrics import parse_address as parse_metrics_address
from controller.metrics import start_metrics_server
from controller.p4runtime_proto import p4info_pb2
from controller.private_directory import ensure_private_directory
from controller.shared_config import SharedConfigError
from controller.switch_session import SwitchAddress

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_P4INFO = ROOT / "p4src" / "build" / "lb.p4info.txt"
DEFAULT_JSON = ROOT / "p4src" / "build" / "lb.json"

log = logging.getLogger("p4lb")


def parse_switch(text: str) -> SwitchAddress:
    addr, _, dev = text.partition("#")
    if ":" not in addr:
        raise argparse.ArgumentTypeError(f"switch {text!r}: expected HOST:PORT[#DEVICE_ID]")
    try:
        return SwitchAddress(addr, int(dev) if dev else 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"switch {text!r}: device id {dev!r} is not a number"
        ) from None


def _metrics_address(text: str) -> tuple[str, int]:
    try:
        return parse_metrics_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def load_p4info(path: Path) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Parse(path.read_text(), info)
    return info


def switch_credentials(args: argparse.Namespace) -> grpc.ChannelCredentials | None:
    """TLS to the switches from --switch-ca/--cert/--key; None when none is given."""
    if args.switch_ca is None and args.cert is None and args.key is None:
        return None
    if (args.cert is None) != (args.key is None):
        raise ValueError("--cert and --key go together")
    pem = {name: getattr(args, name).read_bytes() if getattr(args, name) else None
           for name in ("switch_ca", "cert", "key")}
    # gRPC only fails at the handshake, retried forever; OpenSSL says what is wrong now.
    check = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if pem["switch_ca"] is not None:
            check.load_verify_locations(cadata=pem["switch_ca"].decode("ascii", "replace"))
        if args.cert is not None:
            check.load_cert_chain(args.cert, args.key)
    except ssl.SSLError as e:
        raise ValueError(f"--switch-ca/--cert/--key: {e}") from None
    return grpc.ssl_channel_credentials(root_certificates=pem["switch_ca"],
                                        private_key=pem["key"], certificate_chain=pem["cert"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="p4lb-controller", description=__doc__.splitlines()[0])
    parser.add_argument("--switch", type=parse_switch, action="append", default=[],
                        help="P4Runtime address of a switch, HOST:PORT[#DEVICE_ID]")
    parser.add_argument("--socket", type=Path, default=Path("/tmp/p4lb/controller.sock"))
    parser.add_argument("--state", type=Path, default=Path("/tmp/p4lb/state.json"),
                        help="the configuration's file when there is no --store")
    parser.add_argument("--store", metavar="etcd://HOST:PORT[,HOST:PORT...]",
                        help="keep the configuration in etcd, shared with other controllers")
    parser.add_argument("--p4info", type=Path, default=DEFAULT_P4INFO)
    parser.add_argument("--bmv2-json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--election-id", type=int, default=1)
    parser.add_argument("--config", type=Path, help="lbctl commands to run at start")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--metrics-addr", type=_metrics_address, metavar="HOST:PORT",
                        help="serve Prometheus metrics on http://HOST:PORT/metrics")
    parser.add_argument("--switch-ca", type=Path, metavar="PEM",
                        help="talk TLS to the switches, whose certificates this CA signed")
    parser.add_argument("--cert", type=Path, metavar="PEM",
                        help="the controller's certificate, for switches that want mutual TLS")
    parser.add_argument("--key", type=Path, metavar="PEM", help="its private key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.switch:
        args.switch = [SwitchAddress("127.0.0.1:9559", 0)]

    # The socket first: a second controller on the same --socket must stop
    # here, before it touches the state file or the switches.
    service: LbService | None = None
    try:
        credentials = switch_credentials(args)
    except (OSError, ValueError) as e:
        print(f"p4lb-controller: {e}", file=sys.stderr)
        return 2
    try:
        for directory in {args.socket.parent, args.state.parent}:
            ensure_private_directory(directory)
        server = ManagementServer(
            args.socket, lambda line, as_json=False: service.execute(line, as_json))
    except OSError as e:
        print(f"p4lb-controller: {e}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    store = None
    if args.store:
        try:
            store = EtcdConfigStore(parse_store_url(args.store))
        except ValueError as e:
            server.stop()
            print(f"p4lb-controller: {e}", file=sys.stderr)
            return 2
    try:
        p4info, device_config = load_p4info(args.p4info), args.bmv2_json.read_bytes()
        while True:
            try:
                service = LbService(p4info=p4info, device_config=device_config,
                                    election_id=args.election_id, state_path=args.state,
                                    store=store)
                break
            except StoreUnavailable as e:
                # Without its configuration the controller would program an
                # empty one: it leaves the switches alone until the store answers.
                log.warning("%s; not connecting to the switches yet", e)
                if done.wait(1.0):
                    server.stop()
                    return 0
    except (StateFileError, SharedConfigError, OSError) as e:
        server.stop()
        print(f"p4lb-controller: {e}", file=sys.stderr)
        return 2

    for address in args.switch:
        service.dataplane.add_switch(address, credentials)
    server.start()
    metrics = None
    if args.metrics_addr is not None:
        host, port = args.metrics_addr
        try:
            metrics = start_metrics_server(lambda line: service.execute(line, as_json=True),
                                           host, port)
        except OSError as e:
            print(f"p4lb-controller: metrics on {host}:{port}: {e.strerror or e}",
                  file=sys.stderr)
            server.stop()
            service.close()
            return 2
        log.info("metrics on http://%s:%d/metrics", host, port)
    log.info("management API on %s; switches: %s", args.socket,
             ", ".join(str(a) for a in args.switch))
    if args.config:
        for line in args.config.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                print(service.execute(line))

    done.wait()
    if metrics is not None:
        metrics.shutdown()
    server.stop()
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
