"""p4lb-controller: the control-plane daemon.

    p4lb-controller --switch 127.0.0.1:9559 [--switch ADDR[#DEVICE_ID] ...]
                    [--socket /tmp/p4lb/controller.sock] [--state FILE]
                    [--p4info P --bmv2-json J] [--election-id N] [--config FILE]

It restores the configuration from --state (refusing to start on a corrupt
file rather than replacing it), connects to every switch, reconciles their
tables with the configuration, learns and ages flows, and serves the
management API that lbctl talks to. SIGTERM/SIGINT stop it cleanly; the
switches keep forwarding (and keep their flows) while it is away.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from google.protobuf import text_format

from controller.lb_service import LbService, StateFileError
from controller.management_api import ManagementServer
from controller.p4runtime_proto import p4info_pb2
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


def load_p4info(path: Path) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Parse(path.read_text(), info)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="p4lb-controller", description=__doc__.splitlines()[0])
    parser.add_argument("--switch", type=parse_switch, action="append", default=[],
                        help="P4Runtime address of a switch, HOST:PORT[#DEVICE_ID]")
    parser.add_argument("--socket", type=Path, default=Path("/tmp/p4lb/controller.sock"))
    parser.add_argument("--state", type=Path, default=Path("/tmp/p4lb/state.json"))
    parser.add_argument("--p4info", type=Path, default=DEFAULT_P4INFO)
    parser.add_argument("--bmv2-json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--election-id", type=int, default=1)
    parser.add_argument("--config", type=Path, help="lbctl commands to run at start")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.switch:
        args.switch = [SwitchAddress("127.0.0.1:9559", 0)]

    try:
        service = LbService(
            p4info=load_p4info(args.p4info),
            device_config=args.bmv2_json.read_bytes(),
            election_id=args.election_id,
            state_path=args.state,
        )
    except StateFileError as e:
        print(f"p4lb-controller: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"p4lb-controller: {e}", file=sys.stderr)
        return 2

    for address in args.switch:
        service.dataplane.add_switch(address)
    args.socket.parent.mkdir(parents=True, exist_ok=True)
    server = ManagementServer(args.socket, service.execute)
    server.start()
    log.info("management API on %s; switches: %s", args.socket,
             ", ".join(str(a) for a in args.switch))
    if args.config:
        for line in args.config.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                print(service.execute(line))

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop()
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
