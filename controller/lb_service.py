"""The load balancer as a service: commands in, switch state and answers out.

`LbService.execute(line)` is what the management API (and so lbctl) calls:
the line is parsed with VPP's grammar (cli_grammar), applied to the
configuration (lb_model), saved atomically, and pushed to the switches
(lb_dataplane). Flow tracking feeds back: AS flow counts, and the collection
of draining ASs and VIPs when their last flow ages out, checked every second
so it happens on a quiet system too.
"""

from __future__ import annotations

import logging
import os
import threading
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from controller import cli_grammar as g
from controller.lb_config_document import ConfigDocumentError, from_json, to_json
from controller.lb_dataplane import LbDataPlane, SyncReport
from controller.lb_model import LbConfig
from controller.lb_tables import AsPlan, DataPlanePlan, RoutePlan, VipPlan
from controller.lb_values import LbConfigError, Vip
from controller.management_api import CommandError
from controller.p4runtime_proto import p4info_pb2
from controller.show_format import (
    FlowRow,
    VipCounters,
    render_flows,
    render_help,
    render_routes,
    render_running_config,
    render_show_lb,
    render_vips,
)

log = logging.getLogger(__name__)

HOUSEKEEPING_PERIOD_S = 1.0
# lb.p4's per-VIP counters, in VPP's order (show_format.VIP_COUNTER_NAMES).
VIP_COUNTERS = ("vip_existing_session", "vip_first_session", "vip_untracked", "vip_no_server")
# lb.p4's drop_counter indices (headers.p4, DROP_*).
DROP_REASONS = (
    "parser error", "bad ipv4 checksum", "not ip", "ttl expired", "no route", "no server",
    "truncated", "fragment of per-port vip",
)


class StateFileError(Exception):
    """The saved state cannot be loaded; the daemon refuses to start over it."""


def port_mac(port: int) -> int:
    """The LB's own MAC on a port, when a route does not name one: 02:4c:42:00:PP:PP."""
    return 0x024C42000000 | port


def plan_from_config(config: LbConfig) -> DataPlanePlan:
    conf = config.conf
    vips = tuple(
        VipPlan(
            vip_id=v.vip_id,
            prefix=v.prefix,
            protocol=v.protocol.number if v.protocol is not None else None,
            port=v.port,
            encap=str(v.encap),
            dscp=v.dscp or 0,
            target_port=v.target_port or 0,
            new_len=v.new_len,
            src_ip_sticky=v.src_ip_sticky,
            ases=tuple(AsPlan(a.as_id, a.address, a.weight, a.live) for a in v.sorted_ases()),
        )
        for v in config.vips()
    )
    routes = tuple(
        RoutePlan(
            r.prefix, r.port,
            r.src_mac.value if r.src_mac is not None else port_mac(r.port),
            r.next_hop_mac.value,
        )  # fmt: skip
        for r in config.routes()
    )
    return DataPlanePlan(
        ip4_src=conf.ip4_src or IPv4Address(0),
        ip6_src=conf.ip6_src or IPv6Address(0),
        vips=vips,
        routes=routes,
    )


def save_atomically(path: Path, text: str) -> None:
    """Write-then-rename: a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_state(path: Path) -> LbConfig:
    if not path.exists():
        return LbConfig()
    try:
        return from_json(path.read_bytes())
    except (ConfigDocumentError, UnicodeDecodeError) as e:
        raise StateFileError(
            f"state file {path} is corrupt ({e}); fix it or move it away, it was not replaced"
        ) from e


class LbService:
    def __init__(
        self,
        p4info: p4info_pb2.P4Info,
        device_config: bytes,
        election_id: int,
        state_path: Path | None,
        housekeeping: bool = True,
    ) -> None:
        self.state_path = state_path
        self.config = load_state(state_path) if state_path else LbConfig()
        self._lock = threading.RLock()
        self._live_pairs: frozenset[tuple[int, int]] = frozenset()
        self._update_live_pairs()
        self.dataplane = LbDataPlane(
            p4info, device_config, election_id,
            timeout_s=lambda: self.config.conf.timeout,
            is_live_as=self._is_live_as,
            on_flows_gone=self._on_flows_gone,
        )  # fmt: skip
        self.dataplane.apply(plan_from_config(self.config))
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None
        if housekeeping:
            self._housekeeper = threading.Thread(target=self._housekeeping, daemon=True)
            self._housekeeper.start()

    def close(self) -> None:
        self._stop.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5)
        self.dataplane.stop()

    # --- flow tracking feedback ------------------------------------------------------

    def _is_live_as(self, vip_id: int, as_id: int) -> bool:
        # Lock-free on purpose: the flow learner asks while holding its write
        # lock, which a command holding self._lock may be waiting for.
        return (vip_id, as_id) in self._live_pairs

    def _update_live_pairs(self) -> None:
        self._live_pairs = frozenset(
            (v.vip_id, a.as_id) for v in self.config.vips() for a in v.ases.values() if a.live
        )

    def _on_flows_gone(self, gone: list[tuple[int, int]]) -> None:
        with self._lock:
            removed = []
            for _vip_id, as_id in set(gone):
                count = self.dataplane.learner.flow_count(as_id)
                removed += self.config.set_flow_count(as_id, count)
            if removed:
                self._commit()

    def _refresh_flow_counts(self) -> bool:
        """Copies the learner's counts into the model; True if something was collected."""
        removed = []
        for vip in self.config.vips():
            for a in list(vip.ases.values()):
                removed += self.config.set_flow_count(
                    a.as_id, self.dataplane.learner.flow_count(a.as_id)
                )
        return bool(removed)

    def _all_switches_reconciled(self) -> bool:
        return bool(self.dataplane.sessions) and all(
            s.connected.is_set() for s in self.dataplane.sessions.values()
        )

    def _housekeeping(self) -> None:
        while not self._stop.wait(HOUSEKEEPING_PERIOD_S):
            # Flow counts are only known once every switch was read back; before
            # that a draining AS would look empty and be collected too early.
            if not self._all_switches_reconciled():
                continue
            try:
                with self._lock:
                    if self._refresh_flow_counts():
                        self._commit()
            except Exception:  # noqa: BLE001 - housekeeping must keep running
                log.exception("housekeeping failed")

    # --- commands ------------------------------------------------------------------

    def _commit(self) -> SyncReport:
        """Saves the configuration and pushes it to the switches."""
        self._update_live_pairs()
        if self.state_path is not None:
            save_atomically(self.state_path, to_json(self.config))
        report = self.dataplane.apply(plan_from_config(self.config))
        for switch, error in report.errors.items():
            log.warning("switch %s: %s", switch, error)
        return report

    def execute(self, line: str) -> str:
        try:
            command = g.parse(line)
        except LbConfigError as e:
            raise CommandError(str(e)) from e
        with self._lock:
            if isinstance(command, g.ConfigCommand):
                return self._configure(command)
            return self._show(command)

    def _configure(self, command: g.ConfigCommand) -> str:
        self._refresh_flow_counts()
        flush_as: set[int] = set()
        flush_vip: int | None = None
        if isinstance(command, g.AsCommand) and command.delete and command.flush:
            vip = self._vip(command.vip_key)
            flush_as = {vip.ases[a].as_id for a in command.addresses if a in vip.ases}
        if isinstance(command, g.FlushVipCommand):
            flush_vip = self._vip(command.vip_key).vip_id
        try:
            command.apply(self.config)
        except LbConfigError as e:
            raise CommandError(str(e)) from e
        # No new flow may be pinned to what this command removed, from here on.
        self._update_live_pairs()
        # Flows go before the encap entries they point to are removed.
        if flush_as:
            self.dataplane.learner.flush(lambda _k, as_id: as_id in flush_as)
        if flush_vip is not None:
            self.dataplane.learner.flush(lambda k, _a: k.vip_id == flush_vip)
        self._refresh_flow_counts()
        report = self._commit()
        warnings = [f"warning: switch {s}: {e}" for s, e in report.errors.items()]
        warnings += self._missing_source_warnings()
        return "\n".join(warnings)

    def _missing_source_warnings(self) -> list[str]:
        """GRE needs an outer source; without `lb conf ip4-src-address` it would be 0.0.0.0."""
        conf = self.config.conf
        needed = {str(v.encap) for v in self.config.vips() if v.ases}
        out = []
        if "gre4" in needed and conf.ip4_src is None:
            out.append("warning: gre4 VIPs send from 0.0.0.0 until "
                       "'lb conf ip4-src-address <addr>' is set")
        if "gre6" in needed and conf.ip6_src is None:
            out.append("warning: gre6 VIPs send from :: until "
                       "'lb conf ip6-src-address <addr>' is set")
        return out

    def _vip(self, key) -> Vip:
        try:
            return self.config.vip(key)
        except LbConfigError as e:
            raise CommandError(str(e)) from e

    def _show(self, command: object) -> str:
        if isinstance(command, g.HelpCommand):
            return render_help()
        if isinstance(command, g.ShowRunningConfigCommand):
            return render_running_config(self.config)
        if isinstance(command, g.ShowRoutesCommand):
            return render_routes(self.config)
        self._refresh_flow_counts()
        learner = self.dataplane.learner
        if isinstance(command, g.ShowLbCommand):
            text = render_show_lb(self.config, len(learner))
            drops = self._read_counters().get("drop_counter", {})
            lines = [f" drops {DROP_REASONS[i]}: {p}" for i, (_b, p) in sorted(drops.items()) if p]
            lines.append(f" flows learned {learner.learned}, aged {learner.aged}, install "
                         f"failures {learner.install_failures}, undecodable switch messages "
                         f"{learner.bad_messages}")
            lines += [
                f" switch {name}: {'connected' if s.connected.is_set() else 'connecting'}"
                for name, s in self.dataplane.sessions.items()
            ]
            return "\n".join([text, *lines])
        if isinstance(command, g.ShowVipsCommand):
            counters = self._read_counters() if command.verbose else None
            vip_counters = None
            as_packets = None
            if counters is not None:
                vip_counters = {
                    v.vip_id: VipCounters(*(
                        counters[name].get(v.vip_id, (0, 0))[1] for name in VIP_COUNTERS
                    ))
                    for v in self.config.vips()
                }  # fmt: skip
                as_packets = {i: p for i, (_b, p) in counters["as_packets"].items()}
            return render_vips(self.config, command.verbose, vip_counters, as_packets)
        if isinstance(command, g.ShowFlowsCommand):
            vip_ids = None
            if command.vip_key is not None:
                vip_ids = [self._vip(command.vip_key).vip_id]
            rows = [FlowRow(k.vip_id, k.describe(), as_id) for k, as_id in learner.flows(vip_ids)]
            return render_flows(self.config, rows)
        raise CommandError(f"unsupported command {command!r}")

    def _read_counters(self) -> dict[str, dict[int, tuple[int, int]]]:
        vip_ids = [v.vip_id for v in self.config.vips()]
        as_ids = [a.as_id for v in self.config.vips() for a in v.ases.values()]
        indices = {name: vip_ids for name in VIP_COUNTERS}
        indices["as_packets"] = as_ids
        indices["drop_counter"] = list(range(len(DROP_REASONS)))
        return self.dataplane.read_counters(indices)
