"""`make run`: the load balancer doing its job on a real network stack.

Brings up topology 1 (2 clients, the LB, 3 application servers), starts the
switch (TARGET=embedded or bmv2) and the controller, configures a GRE VIP
(health-checked through its tunnels) and a NAT VIP with lbctl, sends real
TCP requests from the clients, and
prints which AS served how many next to the controller's own counters.
On a terminal it then opens an lbctl shell (type `mininet` for Mininet's
CLI, `exit` to tear down); without one it exits, with status 0 only if
every request succeeded. Ctrl-C at any point tears everything down.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from topo.lb_topology import GRE_VIP, NAT_VIP, LbNetwork

REQUESTS_PER_CLIENT = 30


def run_requests(lbn: LbNetwork, vip: str, port: int) -> tuple[dict[str, int], int]:
    served: dict[str, int] = {}
    failed = 0
    for c in lbn.client_hosts:
        out = lbn.run_on(c, "topo.lb_client", "tcp", vip, str(port), str(REQUESTS_PER_CLIENT))
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f"  {c.name}: client failed:\n{out}")
            failed += REQUESTS_PER_CLIENT
            continue
        failed += result["failed"]
        for name, n in result["served"].items():
            served[name] = served.get(name, 0) + n
    return served, failed


def interactive(lbn: LbNetwork) -> None:
    from mininet.cli import CLI

    from controller.lbctl import interactive as lbctl_shell
    from controller.management_api import ManagementClient

    print("\nlbctl shell: VPP lb commands, `help`, `exit` to tear down; "
          "`mininet` opens Mininet's CLI (exit it to come back).")
    client = ManagementClient(lbn.socket)
    try:
        lbctl_shell(client, extra_commands={"mininet": lambda: CLI(lbn.net)})
    finally:
        client.close()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # SIGTERM (a closed terminal, a CI timeout) tears down like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    workdir = Path(os.environ.get("P4LB_WORKDIR", "/tmp/p4lb-demo"))
    lbn = LbNetwork(clients=2, servers=3, workdir=workdir)
    print(f"*** starting topology 1 on the {lbn.target} switch (logs in {workdir})")
    ok = False
    try:
        lbn.start()
        for sw in lbn.switches:
            print(f"*** P4Runtime of the switch: {sw.grpc_addr}, device id {sw.device_id} "
                  f"(p4runtime-shell: make shell P4RUNTIME={sw.grpc_addr} "
                  f"DEVICE_ID={sw.device_id})")
        lbn.configure_demo()
        lbn.lbctl("lb conf hc4-src-address 192.0.2.99",
                  f"lb health-check {GRE_VIP}/32 check_port 80 interval 1 timeout 0.5")
        total_failed = 0
        for title, vip, port in (("GRE4 VIP", GRE_VIP, 80), ("NAT4 VIP", NAT_VIP, 80)):
            served, failed = run_requests(lbn, vip, port)
            total_failed += failed
            asked = REQUESTS_PER_CLIENT * len(lbn.client_hosts)
            print(f"\n*** {title} {vip}:{port}: {asked - failed}/{asked} requests answered")
            for name in sorted(served):
                print(f"    {name}: {served[name]}")
        print("\n*** show lb vips verbose (the controller's counters)")
        print(lbn.lbctl("show lb vips verbose"))
        print("\n*** show lb")
        print(lbn.lbctl("show lb"))
        ok = total_failed == 0
        print(f"\n*** demo {'succeeded' if ok else 'FAILED'}: "
              f"{total_failed} request(s) failed")
        if sys.stdin.isatty():
            interactive(lbn)
    except KeyboardInterrupt:
        print("\n*** interrupted")
    finally:
        print("*** tearing down")
        lbn.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
