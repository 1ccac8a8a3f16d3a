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
import time
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path

from controller import cli_grammar as g
from controller.config_store import EtcdConfigStore, StoredConfig, StoreUnavailable
from controller.health_checker import HealthChecker, ProbeTarget, Transition
from controller.lb_config_document import ConfigDocumentError, from_json, to_json
from controller.lb_dataplane import LbDataPlane, SyncReport
from controller.lb_model import LbConfig
from controller.lb_tables import AsPlan, DataPlanePlan, RoutePlan, VipPlan
from controller.lb_values import CPU_PORT, DownAction, LbConfigError, State, Vip
from controller.management_api import CommandError
from controller.p4runtime_proto import p4info_pb2
from controller.shared_config import SharedConfig, SharedConfigError, as_ids
from controller.show_data import (
    flows_data,
    help_data,
    routes_data,
    running_config_data,
    show_lb_data,
    vips_data,
)
from controller.show_format import (
    DEFAULT_FLOW_LIMIT,
    FlowRow,
    LbStatus,
    SwitchStatus,
    VipCounters,
    render_flows,
    render_help,
    render_routes,
    render_running_config,
    render_show_lb,
    render_vips,
)
from controller.switch_session import Role

log = logging.getLogger(__name__)

HOUSEKEEPING_PERIOD_S = 1.0
# A draining AS is held for the pending lifetime plus this, covering the
# digest's way to the controller and the flow install.
PENDING_HOLD_MARGIN_S = 1.0
# lb.p4's per-VIP counters, in VPP's order, then ours (show_format.VIP_COUNTER_NAMES).
VIP_COUNTERS = ("vip_existing_session", "vip_first_session", "vip_untracked", "vip_no_server",
                "vip_pending_collision")
# lb.p4's drop_counter indices (headers.p4, DROP_*).
DROP_REASONS = (
    "parser error", "bad ipv4 checksum", "not ip", "ttl expired", "no route", "no server",
    "truncated", "fragment of per-port vip", "bad ip length",
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
            flush_epoch=v.flush_epoch,
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
    ) + tuple(
        # Health-check answers come back to these: the switch sends them to the CPU.
        RoutePlan(ip_network(source), CPU_PORT, 0, 0, to_cpu=True)
        for source in (conf.hc4_src, conf.hc6_src) if source is not None
    )
    return DataPlanePlan(
        ip4_src=conf.ip4_src or IPv4Address(0),
        ip6_src=conf.ip6_src or IPv6Address(0),
        vips=vips,
        routes=routes,
        pending_lifetime_us=conf.pending_timeout_ms * 1000,
    )


def save_atomically(path: Path, text: str) -> None:
    """Write-then-rename: a crash leaves the old file or the new one, never half.
    Mode 0600: the configuration is nobody else's business."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover .tmp keeps its old mode through O_CREAT
    with open(fd, "w") as f:
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
        store: EtcdConfigStore | None = None,
    ) -> None:
        """With a `store`, the configuration is the one in etcd (state_path unused):
        StoreUnavailable if no member answers now."""
        self.state_path = None if store is not None else state_path
        self.shared: SharedConfig | None = None
        self._last_report = SyncReport()  # of the last configuration adopted
        if store is not None:
            self.shared = SharedConfig(store, self._adopt)
            self.config = self.shared.load()
        else:
            self.config = load_state(state_path) if state_path else LbConfig()
        self._lock = threading.RLock()
        self._pinnable: frozenset[tuple[int, int]] = frozenset()
        self._update_pinnable()
        # as_id -> monotonic time its pending hold ends (lb_values.As.pending)
        self._pending_until: dict[int, float] = {}
        self.dataplane = LbDataPlane(
            p4info, device_config, election_id,
            timeout_s=lambda: self.config.conf.timeout,
            is_pinnable_as=self._is_pinnable_as,
            on_flows_gone=self._on_flows_gone,
        )  # fmt: skip
        self.health = HealthChecker(self.dataplane.send_probe, self._on_health_change)
        self.dataplane.on_packet_in = self.health.packet_in
        self._sync_health()
        self.dataplane.apply(plan_from_config(self.config))
        if self.shared is not None:
            self.shared.store.follow(self._on_stored)
        self.health.start()
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None
        if housekeeping:
            self._housekeeper = threading.Thread(target=self._housekeeping, daemon=True)
            self._housekeeper.start()

    def close(self) -> None:
        self._stop.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5)
        if self.shared is not None:
            self.shared.store.close()
        self.health.close()
        self.dataplane.stop()

    # --- health checks ------------------------------------------------------------------

    def _sync_health(self) -> None:
        """Tells the checker what to probe, and marks the ASs it holds down."""
        targets = []
        for vip in self.config.vips():
            goal = vip.probe_target()
            if goal is None or vip.health is None:
                continue
            source = self.config.conf.hc4_src if vip.prefix.version == 4 \
                else self.config.conf.hc6_src
            if source is None:
                continue
            labels = (str(vip.prefix), None if vip.protocol is None else str(vip.protocol),
                      vip.port)
            targets += [
                ProbeTarget(vip.vip_id, a.as_id, str(vip.key), labels, a.address, source,
                            goal[0], goal[1], vip.health)
                for a in vip.sorted_ases() if a.state is State.USED
            ]
        self.health.configure(targets)
        for vip in self.config.vips():
            for a in vip.ases.values():
                a.healthy = self.health.is_up(vip.vip_id, a.as_id)

    def _on_health_change(self, transitions: list[Transition]) -> None:
        """An AS went down (no new flows; its flows flushed if the check says so) or up."""
        with self._lock:
            flush = {t.target.as_id for t in transitions
                     if not t.up and t.target.check.on_down is DownAction.FLUSH}
            for vip_id in {t.target.vip_id for t in transitions if t.target.as_id in flush}:
                vip = self.config.vip_by_id(vip_id)
                if vip is not None:
                    vip.flush_epoch = (vip.flush_epoch + 1) % 256
            self._sync_health()
            self._update_pinnable()
            if flush:
                self.dataplane.learner.flush(lambda _k, as_id: as_id in flush)
                self._refresh_flow_counts()
            self._commit()

    # --- flow tracking feedback ------------------------------------------------------

    def _is_pinnable_as(self, vip_id: int, as_id: int) -> bool:
        # Lock-free on purpose: the flow learner asks while holding its write
        # lock, which a command holding self._lock may be waiting for.
        return (vip_id, as_id) in self._pinnable

    def _update_pinnable(self) -> None:
        """The (VIP, AS) pairs a digest may pin a flow to: every AS still
        configured, draining ones included, since the data plane chose it and
        its pending slot keeps sending the flow there. A flushed or collected
        AS is gone, and so are the flows the data plane gave it; so is one
        whose health check found it down and flushes its flows."""
        self._pinnable = frozenset(
            (v.vip_id, a.as_id) for v in self.config.vips() for a in v.ases.values()
            if a.healthy or v.health is None or v.health.on_down is not DownAction.FLUSH
        )

    def _hold_pending(self, was_live: set[int]) -> None:
        """Starts the pending hold of every AS that stopped getting buckets."""
        hold = self.config.conf.pending_timeout_ms / 1000 + PENDING_HOLD_MARGIN_S
        now = time.monotonic()
        held = set()
        for vip in self.config.vips():
            for a in vip.ases.values():
                if a.pending:
                    held.add(a.as_id)
                    if a.as_id in was_live or a.as_id not in self._pending_until:
                        self._pending_until[a.as_id] = now + hold
        for gone in set(self._pending_until) - held:
            del self._pending_until[gone]

    def _mark_pending(self, config: LbConfig, was_live: set[int] = frozenset()) -> None:
        """Sets the pending flag of `config`'s draining ASs from this controller's holds
        (a configuration copied or read from the store has none)."""
        for vip in config.vips():
            for a in vip.ases.values():
                a.pending = a.state is State.DRAINING and (
                    a.as_id in self._pending_until or a.as_id in was_live)

    def _end_pending_holds(self) -> bool:
        """Ends the holds that are over; True if that collected something. With a
        store, the collection goes through it (_collect_shared)."""
        now = time.monotonic()
        over = [as_id for as_id, until in self._pending_until.items() if until <= now]
        for as_id in over:
            del self._pending_until[as_id]
        if not over or self.shared is not None:
            return False
        return bool(self.config.pending_ended(over))

    def _on_flows_gone(self, gone: list[tuple[int, int]]) -> None:
        with self._lock:
            self.config.flow_counts_known = self._flow_counts_known() and self.shared is None
            removed = []
            for _vip_id, as_id in set(gone):
                count = self.dataplane.learner.flow_count(as_id)
                removed += self.config.set_flow_count(as_id, count)
            if removed:
                self._commit()

    def _refresh_flow_counts(self) -> bool:
        """Copies the learner's counts into the model; True if something was collected.

        Only while every switch is ours and read back: otherwise the learner
        does not know every flow, and a draining AS must wait."""
        known = self._flow_counts_known()
        # The model shared through the store collects only in a copy that is
        # written (shared_config); the counts are still shown.
        self.config.flow_counts_known = known and self.shared is None
        if not known:
            return False
        return self._copy_flow_counts(self.config)

    def _copy_flow_counts(self, config: LbConfig) -> bool:
        removed = []
        for vip in config.vips():
            for a in list(vip.ases.values()):
                removed += config.set_flow_count(a.as_id,
                                                 self.dataplane.learner.flow_count(a.as_id))
        return bool(removed)

    def _flow_counts_known(self) -> bool:
        return all(s.connected.is_set() for s in self.dataplane.sessions.values())

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
                    collected = self._refresh_flow_counts()
                    if self._end_pending_holds() or collected:
                        self._commit()
                    if self.shared is not None:
                        self._collect_shared()
            except Exception:  # noqa: BLE001 - housekeeping must keep running
                log.exception("housekeeping failed")

    # --- commands ------------------------------------------------------------------

    def _commit(self) -> SyncReport:
        """Saves the configuration and pushes it to the switches."""
        self._sync_health()
        self._update_pinnable()
        if self.state_path is not None:
            save_atomically(self.state_path, to_json(self.config))
        report = self.dataplane.apply(plan_from_config(self.config))
        for switch, error in report.errors.items():
            log.warning("switch %s: %s", switch, error)
        return report

    def execute(self, line: str, as_json: bool = False) -> str | dict:
        """Runs one command line; its answer as text, or with ``as_json`` as data
        (show_data; a configuration command answers {"warnings": [...]})."""
        try:
            command = g.parse(line)
        except LbConfigError as e:
            raise CommandError(str(e)) from e
        with self._lock:
            if isinstance(command, g.ConfigCommand):
                warnings = self._configure(command)
                return {"warnings": warnings} if as_json else "\n".join(warnings)
            return self._show(command, as_json)

    # --- the configuration shared through the store -----------------------------------

    def _on_stored(self, stored: StoredConfig) -> None:
        """A value of the store (from its watch or poll); newer ones are adopted."""
        with self._lock:
            try:
                self.shared.adopt(stored)
            except SharedConfigError as e:
                log.error("%s; keeping revision %d", e, self.shared.revision)

    def _adopt(self, config: LbConfig, flushed_vips: set[int]) -> None:
        """Makes `config` (agreed in the store) this controller's, flows and switches
        included. Flows of ASs that are gone, and of flushed VIPs, go first: before
        the entries they point to are removed."""
        old = self.config
        flows = {a.as_id: a.flows for v in old.vips() for a in v.ases.values()}
        was_live = {a.as_id for v in old.vips() for a in v.ases.values() if a.live}
        for vip in config.vips():
            for a in vip.ases.values():
                a.flows = flows.get(a.as_id, 0)
        gone = as_ids(old) - as_ids(config)
        # Flush epochs are not stored either: kept, and bumped where flows were cut.
        epochs = {v.vip_id: (v.flush_epoch, {a.as_id for a in v.ases.values()})
                  for v in old.vips()}
        for vip in config.vips():
            epoch, had = epochs.get(vip.vip_id, (0, set()))
            cut = vip.vip_id in flushed_vips or bool(had & gone)
            vip.flush_epoch = (epoch + cut) % 256
        self.config = config
        # The store does not keep pending holds: an AS this controller saw
        # stop getting buckets, or already holds, is pending here.
        self._mark_pending(config, was_live)
        self._update_pinnable()
        self._hold_pending(was_live)
        if gone or flushed_vips:
            self.dataplane.learner.flush(
                lambda k, as_id: as_id in gone or k.vip_id in flushed_vips)
        self._refresh_flow_counts()
        self._last_report = self.dataplane.apply(plan_from_config(config))

    def _collect_shared(self) -> None:
        """The primary collects drained ASs that lost their last flow, through the store."""
        if not self._flow_counts_known() or not self.dataplane.sessions:
            return
        def collect(candidate: LbConfig) -> set[int]:
            self._mark_pending(candidate)
            self._copy_flow_counts(candidate)
            return set()

        try:
            self.shared.change(lambda: self.config, collect, flow_counts_known=True)
        except (StoreUnavailable, SharedConfigError) as e:
            log.debug("collecting drained ASs: %s", e)

    def _configure_shared(self, command: g.ConfigCommand) -> list[str]:
        self._refresh_flow_counts()

        def mutate(candidate: LbConfig) -> set[int]:
            self._mark_pending(candidate)
            flushed = set()
            if isinstance(command, g.FlushAllFlowsCommand):
                flushed = {v.vip_id for v in candidate.vips()}
            if isinstance(command, g.FlushVipCommand):
                try:
                    flushed.add(candidate.vip(command.vip_key).vip_id)
                except LbConfigError as e:
                    raise CommandError(str(e)) from e
            try:
                command.apply(candidate)
            except LbConfigError as e:
                raise CommandError(str(e)) from e
            return flushed

        self._last_report = SyncReport()
        try:
            self.shared.change(lambda: self.config, mutate,
                               flow_counts_known=self._flow_counts_known())
        except (StoreUnavailable, SharedConfigError) as e:
            raise CommandError(str(e)) from e
        # A backup does not program the switch: its primary, which watches the
        # same store, does.
        warnings = [f"warning: switch {s}: {e}" for s, e in self._last_report.errors.items()
                    if self.dataplane.sessions[s].role is not Role.BACKUP]
        return warnings + self._missing_source_warnings()

    def _store_text(self) -> str:
        if self.shared is not None:
            store = self.shared.store
            return f"{store.describe()}: {store.health()}"
        if self.state_path is not None:
            return f"state file {self.state_path}"
        return "none (not saved)"

    def _configure(self, command: g.ConfigCommand) -> list[str]:
        if self.shared is not None:
            return self._configure_shared(command)
        self._refresh_flow_counts()
        flush_as: set[int] = set()
        flush_vip: int | None = None
        if isinstance(command, g.AsCommand) and command.delete and command.flush:
            vip = self._vip(command.vip_key)
            flush_as = {vip.ases[a].as_id for a in command.addresses if a in vip.ases}
        if isinstance(command, g.FlushVipCommand):
            flush_vip = self._vip(command.vip_key).vip_id
        was_live = {a.as_id for v in self.config.vips() for a in v.ases.values() if a.live}
        flush_all = isinstance(command, g.FlushAllFlowsCommand)
        try:
            command.apply(self.config)
        except LbConfigError as e:
            raise CommandError(str(e)) from e
        # No new flow may be pinned to what this command removed, from here on.
        self._update_pinnable()
        self._hold_pending(was_live)
        # Flows go before the encap entries they point to are removed.
        if flush_as:
            self.dataplane.learner.flush(lambda _k, as_id: as_id in flush_as)
        if flush_vip is not None:
            self.dataplane.learner.flush(lambda k, _a: k.vip_id == flush_vip)
        if flush_all:
            self.dataplane.learner.flush(lambda _k, _a: True)
        self._refresh_flow_counts()
        report = self._commit()
        warnings = [f"warning: switch {s}: {e}" for s, e in report.errors.items()]
        warnings += self._missing_source_warnings()
        return warnings

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

    def _show(self, command: object, as_json: bool) -> str | dict:
        if isinstance(command, g.HelpCommand):
            return help_data() if as_json else render_help()
        if isinstance(command, g.ShowRunningConfigCommand):
            return running_config_data(self.config) if as_json else render_running_config(
                self.config)
        if isinstance(command, g.ShowRoutesCommand):
            return routes_data(self.config) if as_json else render_routes(self.config)
        self._refresh_flow_counts()
        learner = self.dataplane.learner
        if isinstance(command, g.ShowLbCommand):
            status = self.status()
            if as_json:
                return show_lb_data(self.config, status)
            return render_show_lb(self.config, status.tracked_flows, status)
        if isinstance(command, g.ShowVipsCommand):
            counters = self._read_counters() if command.verbose else None
            if as_json:
                return vips_data(self.config, command.verbose, counters)
            return render_vips(self.config, command.verbose, *_text_counters(self.config,
                                                                             counters))
        if isinstance(command, g.ShowFlowsCommand):
            vip_ids = None
            if command.vip_key is not None:
                vip_ids = [self._vip(command.vip_key).vip_id]
            flows = learner.flows(vip_ids)
            if as_json:
                return flows_data(self.config, flows, DEFAULT_FLOW_LIMIT)
            rows = [FlowRow(k.vip_id, k.describe(), as_id) for k, as_id in flows]
            return render_flows(self.config, rows)
        raise CommandError(f"unsupported command {command!r}")

    def status(self) -> LbStatus:
        """What ``show lb`` and the metrics report besides the configuration."""
        learner = self.dataplane.learner
        counters = self._read_counters(vips=False)
        drops = counters.get("drop_counter", {})
        return LbStatus(
            tracked_flows=len(learner),
            drops={reason: drops.get(i, (0, 0)) for i, reason in enumerate(DROP_REASONS)},
            flows_learned=learner.learned,
            flows_aged=learner.aged,
            install_failures=learner.install_failures,
            bad_messages=learner.bad_messages,
            pending_collisions=sum(
                p for _b, p in counters.get("vip_pending_collision", {}).values()),
            switches=tuple(
                SwitchStatus(name, s.connected.is_set(), s.is_primary, s.describe())
                for name, s in self.dataplane.sessions.items()
            ),
            health=self.health.status(),
            health_events=self.health.event_list(),
            store=self._store_text(),
        )

    def _read_counters(self, vips: bool = True) -> dict[str, dict[int, tuple[int, int]]]:
        """The configured VIPs' and ASs' counter cells and the drop counters
        (with ``vips=False`` only those and the pending-flow collisions), summed over
        the switches."""
        vip_ids = [v.vip_id for v in self.config.vips()]
        as_ids = [a.as_id for v in self.config.vips() for a in v.ases.values()] if vips else []
        indices = {name: vip_ids if vips else [] for name in VIP_COUNTERS}
        indices["vip_pending_collision"] = vip_ids
        indices["as_packets"] = as_ids
        indices["drop_counter"] = list(range(len(DROP_REASONS)))
        return self.dataplane.read_counters(indices)


def _text_counters(
    config: LbConfig, counters: dict[str, dict[int, tuple[int, int]]] | None
) -> tuple[dict[int, VipCounters] | None, dict[int, int] | None]:
    """Packet counts by VIP id and by AS id, as ``show lb vips verbose`` prints them."""
    if counters is None:
        return None, None
    vip_counters = {
        v.vip_id: VipCounters(*(counters[name].get(v.vip_id, (0, 0))[1] for name in VIP_COUNTERS))
        for v in config.vips()
    }
    return vip_counters, {i: p for i, (_b, p) in counters["as_packets"].items()}
