"""Mininet topologies of p4lb, built with Mininet's Python API (Debian's package).

Topology 1 (`LbNetwork(lbs=1)`): client hosts and application-server (AS)
hosts, each on its own link to the LB. Topology 2 (`LbNetwork(lbs=2)`): the
clients reach two LBs through an ECMP router host (a Linux multipath
route), both LBs programmed by one controller with identical Maglev tables.
With `controllers=2, etcd_members=3`, two controllers (election ids 2 and 1)
drive both LBs and share their configuration in a 3-member etcd cluster
(`topo.etcd_cluster`, on loopback): the first is primary on every LB, the
second a backup that takes over when it dies.

The LB is a Mininet node in the root namespace (no Open vSwitch): our switch
process (embedded, or BMv2 with TARGET=bmv2) owns its interfaces with
`-i PORT@IFACE`, and the controller reaches it on loopback. AS hosts hold
the VIPs on `lo`, run `topo.as_service`, and decapsulate GRE in user space
(`topo.gre_decap`: these kernels have no GRE devices).

Mininet's cleanup (`mn -c`) is never used: it kills processes by name on a
shared machine. Everything here ends what it started, by PID, and
`net.stop()` runs in a `finally`; a network namespace dies with its shell,
taking its veth pairs with it, even if this process is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.append("/usr/lib/python3/dist-packages")  # Debian's mininet, for the venv's python

from mininet.net import Mininet  # noqa: E402
from mininet.node import Host, Node  # noqa: E402

from controller.lb_values import CPU_PORT  # noqa: E402
from controller.management_api import ManagementClient  # noqa: E402
from p4switch.launch import SwitchProcess, selected_target  # noqa: E402
from topo.etcd_cluster import EtcdCluster  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LB_JSON = ROOT / "p4src" / "build" / "lb.json"
CLIENT_NET, SERVER_NET = "198.51.100", "10.1.0"
GRE_VIP, NAT_VIP, DSR_VIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
DSR_DSCP = 10


def lb_port_mac(port: int) -> str:
    """The MAC the LB uses on a port (controller.lb_service.port_mac)."""
    return f"02:4c:42:00:{port >> 8:02x}:{port & 0xFF:02x}"


@dataclass
class LbNetwork:
    clients: int = 2
    servers: int = 3
    lbs: int = 1
    workdir: Path = field(default_factory=lambda: Path("/tmp/p4lb-topo"))
    target: str = field(default_factory=selected_target)
    controllers: int = 1
    etcd_members: int = 0  # > 0: the controllers share their configuration in etcd
    net: Mininet | None = None
    switches: list[SwitchProcess] = field(default_factory=list)
    controller_procs: list[subprocess.Popen | None] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)
    services: dict[str, subprocess.Popen] = field(default_factory=dict)  # AS host -> service
    decaps: dict[str, subprocess.Popen] = field(default_factory=dict)  # AS host -> GRE agent
    routes: list[str] = field(default_factory=list)  # lbctl lines, per LB port layout
    etcd: EtcdCluster | None = None

    @property
    def socket(self) -> Path:
        """The first controller's management socket (the primary at start)."""
        return self.controller_socket(0)

    def controller_socket(self, index: int) -> Path:
        return self.workdir / ("controller.sock" if index == 0 else f"controller{index + 1}.sock")

    @property
    def controller(self) -> subprocess.Popen | None:
        return self.controller_procs[0] if self.controller_procs else None

    # --- lifetime ------------------------------------------------------------------

    def start(self) -> LbNetwork:
        if self.controllers > 1 and not self.etcd_members:
            raise ValueError("several controllers need a shared store: etcd_members > 0")
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A network is new every time (fresh MACs): so is the controller's state.
        for i in range(self.controllers):
            self._state_path(i).unlink(missing_ok=True)
        # Mininet.init() would raise host-wide limits and sysctls: not ours to change.
        Mininet.inited = True
        self.net = Mininet(topo=None, controller=None, build=False, autoSetMacs=False)
        try:
            if self.etcd_members:
                self.etcd = EtcdCluster(self.workdir, self.etcd_members).start()
            self._build()
            self._start_switches()
            self._start_controller()
            self._start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for p in reversed(self.processes):
            _end(p)
        self.processes.clear()
        for p in self.controller_procs:
            if p is not None:
                _end(p)
        self.controller_procs = [None] * len(self.controller_procs)
        for s in self.switches:
            s.stop()
        self.switches.clear()
        if self.net is not None:
            self.net.stop()
            self.net = None
        if self.etcd is not None:
            self.etcd.stop()
            self.etcd = None

    def __enter__(self) -> LbNetwork:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- building ------------------------------------------------------------------

    def _build(self) -> None:
        net = self.net
        assert net is not None
        lbs = [net.addHost(f"lb{i + 1}", cls=Node, inNamespace=False) for i in range(self.lbs)]
        clients = [net.addHost(f"c{i + 1}", cls=Host, ip=None) for i in range(self.clients)]
        servers = [net.addHost(f"as{i + 1}", cls=Host, ip=None) for i in range(self.servers)]
        ecmp = net.addHost("ecmp", cls=Host, ip=None) if self.lbs > 1 else None
        self.lb_nodes, self.client_hosts, self.server_hosts, self.ecmp = lbs, clients, servers, ecmp
        self.lb_ports: list[dict[str, int]] = [{} for _ in lbs]  # host name -> LB port
        for li, lb in enumerate(lbs):
            port = 1
            peers = servers + ([ecmp] if ecmp else clients)
            for peer in peers:
                net.addLink(lb, peer)
                self.lb_ports[li][peer.name] = port
                port += 1
        if ecmp:
            for c in clients:
                net.addLink(ecmp, c)
        net.build()
        for node in [*clients, *servers, *([ecmp] if ecmp else [])]:
            for intf in node.intfList():
                node.cmd(f"ethtool -K {intf.name} tx off >/dev/null 2>&1")
            node.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
        for lb in lbs:
            for intf in lb.intfList():
                if intf.name == "lo":
                    continue
                subprocess.run(["ethtool", "-K", intf.name, "tx", "off"],
                               capture_output=True, check=False)
                Path(f"/proc/sys/net/ipv6/conf/{intf.name}/disable_ipv6").write_text("1\n")
        self._address_hosts()

    def _address_hosts(self) -> None:
        """Addresses, static neighbours (the LB answers no ARP) and LB routes.

        With two LBs, a host's links to them share one MAC and the LBs use the
        same port numbers, so one set of routes (the controller's) fits both.
        """
        if len(self.lb_nodes) > 1:
            for node in [*self.server_hosts, self.ecmp]:
                intfs = [i for i in node.intfList() if any(
                    i in node.connectionsTo(lb)[0] for lb in self.lb_nodes)]
                for extra in intfs[1:]:
                    node.cmd(f"ip link set {extra} address {intfs[0].MAC()}")
                    extra.mac = intfs[0].MAC()
        for j, s in enumerate(self.server_hosts):
            addr = f"{SERVER_NET}.{10 + j}"
            intf = s.intfList()[0]
            gw_mac = lb_port_mac(self.lb_ports[0][s.name])
            s.cmd(f"ip addr add {addr}/24 dev {intf}")
            # Answers leave through any live LB: one default route per LB link
            # (one link with a single LB), a link that goes down is skipped.
            links = [i for i in s.intfList() if i.name != "lo"]
            hops = []
            for link in links:
                s.cmd(f"ip neigh replace {SERVER_NET}.1 lladdr {gw_mac} dev {link} nud permanent")
                hops.append(f"nexthop via {SERVER_NET}.1 dev {link} onlink")
            s.cmd("sysctl -qw net.ipv4.conf.all.ignore_routes_with_linkdown=1")
            if len(hops) == 1:
                s.cmd(f"ip route add default via {SERVER_NET}.1 dev {intf}")
            else:
                s.cmd(f"ip route add default {' '.join(hops)}")
            for vip in (GRE_VIP, DSR_VIP):
                s.cmd(f"ip addr add {vip}/32 dev lo")
            # L3DSR: the LB rewrote the destination to this host and put the
            # VIP's DSCP in the header; map it back to the VIP before anything
            # else sees it, statelessly, so the service answers from the VIP.
            s.cmd("nft add table ip p4lb")
            s.cmd("nft 'add chain ip p4lb pre { type filter hook prerouting priority -300 ; }'")
            s.cmd(f"nft add rule ip p4lb pre ip daddr {addr} ip dscp {DSR_DSCP} "
                  f"ip daddr set {DSR_VIP} notrack")
            s.cmd("sysctl -qw net.ipv4.conf.all.rp_filter=0")
            s.cmd(f"sysctl -qw net.ipv4.conf.{intf}.rp_filter=0")
            self.routes.append(
                f"ip route add {addr}/32 via {s.MAC(intf)} port {self.lb_ports[0][s.name]}"
            )
        if self.ecmp is None:
            for i, c in enumerate(self.client_hosts):
                addr = f"{CLIENT_NET}.{10 + i}"
                intf = c.intfList()[0]
                c.cmd(f"ip addr add {addr}/24 dev {intf}")
                c.cmd(f"ip neigh replace {CLIENT_NET}.1 lladdr "
                      f"{lb_port_mac(self.lb_ports[0][c.name])} dev {intf} nud permanent")
                c.cmd(f"ip route add default via {CLIENT_NET}.1")
                self.routes.append(
                    f"ip route add {addr}/32 via {c.MAC(intf)} port {self.lb_ports[0][c.name]}"
                )
            return
        # Topology 2: clients -- ecmp router -- two LBs.
        ecmp = self.ecmp
        ecmp.cmd("sysctl -qw net.ipv4.ip_forward=1")
        ecmp.cmd("sysctl -qw net.ipv4.fib_multipath_hash_policy=1")  # L4 hash: per flow
        ecmp.cmd("sysctl -qw net.ipv4.conf.all.ignore_routes_with_linkdown=1")
        uplinks = []
        for li, lb in enumerate(self.lb_nodes):
            intf = ecmp.connectionsTo(lb)[0][0]
            net_addr = f"192.168.{li + 1}"
            ecmp.cmd(f"ip addr add {net_addr}.2/24 dev {intf}")
            ecmp.cmd(f"ip neigh replace {net_addr}.1 lladdr "
                     f"{lb_port_mac(self.lb_ports[li]['ecmp'])} dev {intf} nud permanent")
            uplinks.append(f"nexthop via {net_addr}.1 dev {intf}")
            if li == 0:
                self.routes.append(f"ip route add {CLIENT_NET}.0/24 via {ecmp.MAC(intf)} "
                                   f"port {self.lb_ports[li]['ecmp']}")
        ecmp.cmd(f"ip route add 10.0.0.0/24 {' '.join(uplinks)}")
        ecmp.cmd(f"ip route add {SERVER_NET}.0/24 {uplinks[0].replace('nexthop ', '')}")
        for i, c in enumerate(self.client_hosts):
            addr = f"{CLIENT_NET}.{10 + i}"
            cintf, eintf = c.intfList()[0], ecmp.connectionsTo(c)[0][0]
            c.cmd(f"ip addr add {addr}/24 dev {cintf}")
            c.cmd(f"ip route add default via {CLIENT_NET}.1")
            ecmp.cmd(f"ip addr add {CLIENT_NET}.1/32 dev {eintf}")
            ecmp.cmd(f"ip route add {addr}/32 dev {eintf}")
            c.cmd(f"ip route replace {CLIENT_NET}.1/32 dev {cintf}")

    def _start_switches(self) -> None:
        for li, lb in enumerate(self.lb_nodes):
            interfaces = {}
            for name, port in self.lb_ports[li].items():
                node = self.net.get(name)
                interfaces[port] = lb.connectionsTo(node)[0][0].name
            # The CPU port carries the controller's health probes and their answers.
            sw = SwitchProcess(LB_JSON, target=self.target, device_id=li, interfaces=interfaces,
                               cpu_port=CPU_PORT,
                               log_path=self.workdir / f"{lb.name}.log")
            self.switches.append(sw.start())

    def _state_path(self, index: int) -> Path:
        return self.workdir / ("state.json" if index == 0 else f"state{index + 1}.json")

    def _start_controller(self) -> None:
        self.controller_argvs = []
        for index in range(self.controllers):
            argv = [sys.executable, "-m", "controller.daemon",
                    "--socket", str(self.controller_socket(index)),
                    "--state", str(self._state_path(index)),
                    # The first is primary: the highest election id.
                    "--election-id", str(self.controllers - index)]
            if self.etcd is not None:
                argv += ["--store", self.etcd.store_url]
            for i, sw in enumerate(self.switches):
                argv += ["--switch", f"{sw.grpc_addr}#{i}"]
            self.controller_argvs.append(argv)
        self.controller_procs = [None] * self.controllers
        for index in range(self.controllers):
            self.start_controller(index)

    def start_controller(self, index: int = 0) -> None:
        sock = self.controller_socket(index)
        if sock.exists():
            sock.unlink()
        name = "controller.log" if index == 0 else f"controller{index + 1}.log"
        log = open(self.workdir / name, "ab")
        proc = subprocess.Popen(self.controller_argvs[index], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, env=_env())
        self.controller_procs[index] = proc
        deadline = time.monotonic() + 30

        def ready() -> bool:
            if not sock.exists():
                return False
            shown = self.lbctl("show lb", controller=index)
            return "connecting" not in shown and "reading back" not in shown

        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("controller did not get ready; see " +
                                   str(self.workdir / name))
            time.sleep(0.1)

    def lose_lb(self, index: int) -> None:
        """An LB box dies: its switch process ends and all its links go down."""
        self.switches[index].stop()
        for intf in self.lb_nodes[index].intfList():
            if intf.name != "lo":
                subprocess.run(["ip", "link", "set", intf.name, "down"], check=False)

    def kill_controller(self, index: int = 0) -> None:
        """kill -9: what a crash looks like to the switches."""
        proc = self.controller_procs[index]
        if proc is not None:
            proc.kill()
            proc.wait()
            self.controller_procs[index] = None

    def _start_services(self) -> None:
        for s in self.server_hosts:
            self.start_service(s)
            self.start_gre_decap(s)
        for s in self.server_hosts:
            self.wait_services(s)

    def start_service(self, host: Host) -> None:
        """The AS's TCP/UDP service (topo.as_service); `stop_service` ends it."""
        proc = self.popen(host, "topo.as_service", host.name, "--tcp", "80", "--tcp", "8080",
                          "--udp", "53", "--udp", "5353")
        self.processes.append(proc)
        self.services[host.name] = proc

    def start_gre_decap(self, host: Host) -> None:
        """The AS's user-space GRE decapsulation (topo.gre_decap)."""
        proc = self.popen(host, "topo.gre_decap")
        self.processes.append(proc)
        self.decaps[host.name] = proc

    def stop_service(self, host: Host) -> None:
        _end(self.services.pop(host.name))

    def stop_gre_decap(self, host: Host) -> None:
        """Breaks the AS's GRE decap; the host and its service stay up."""
        _end(self.decaps.pop(host.name))

    def wait_services(self, host: Host, timeout: float = 20) -> None:
        """Ready means: the TUN device of the GRE agent is up and the service listens."""
        deadline = time.monotonic() + timeout
        while not ("p4lb-gre" in host.cmd("ip -br link show up")
                   and ":8080 " in host.cmd("ss -ltnH")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"services on {host.name} did not start")
            time.sleep(0.1)

    # --- using it ------------------------------------------------------------------

    def popen(self, host: Host, module: str, *args: str) -> subprocess.Popen:
        return host.popen([sys.executable, "-m", module, *args], cwd=str(ROOT), env=_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def run_on(self, host: Host, module: str, *args: str, timeout: float = 120) -> str:
        p = host.popen([sys.executable, "-m", module, *args], cwd=str(ROOT), env=_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=timeout)
        return out.decode() + err.decode()

    def lbctl(self, *lines: str, controller: int = 0) -> str:
        client = ManagementClient(self.controller_socket(controller))
        try:
            return "\n".join(client.run(line) for line in lines)
        finally:
            client.close()

    def configure_demo(self, extra: bool = False) -> None:
        """Routes plus one GRE VIP (all ports) and one NAT VIP (tcp 80 -> 8080).

        With `extra`, also a UDP NAT VIP (53 -> 5353) and an L3DSR VIP.
        """
        servers = " ".join(f"{SERVER_NET}.{10 + j}" for j in range(self.servers))
        self.lbctl(
            "lb conf ip4-src-address 192.0.2.1 timeout 30",
            *self.routes,
            f"lb vip {GRE_VIP}/32 encap gre4 new_len 1024",
            f"lb as {GRE_VIP}/32 {servers}",
            f"lb vip {NAT_VIP}/32 protocol tcp port 80 encap nat4 type clusterip "
            "target_port 8080 new_len 1024",
            f"lb as {NAT_VIP}/32 protocol tcp port 80 {servers}",
        )
        if extra:
            self.lbctl(
                f"lb vip {NAT_VIP}/32 protocol udp port 53 encap nat4 target_port 5353",
                f"lb as {NAT_VIP}/32 protocol udp port 53 {servers}",
                f"lb vip {DSR_VIP}/32 encap l3dsr dscp {DSR_DSCP}",
                f"lb as {DSR_VIP}/32 {servers}",
            )


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _end(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
