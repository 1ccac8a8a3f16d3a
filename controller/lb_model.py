"""The load balancer's configuration: global settings, VIPs, their ASs, routes.

:class:`LbConfig` holds the configuration and offers one operation per CLI
command (``lb conf``, ``lb vip``, ``lb as``, ``lb flush vip``, ``ip route``).
Every operation validates all of its input before changing anything, so a
refused command leaves the configuration as it was; every refusal is a
:class:`LbConfigError` whose message names the offending value.

Rules (VPP's, with its mistakes corrected; see DESIGN.md):

* encap and families: an IPv4 VIP takes gre4, gre6, l3dsr or nat4; an IPv6 VIP
  gre6, gre4 or nat6. NAT46 and NAT64 are refused. The encap decides the AS
  family (gre4, l3dsr, nat4: IPv4 ASs; gre6, nat6: IPv6), so all ASs of a VIP
  share one family.
* per-port VIPs (``protocol tcp|udp port N``) of one prefix share one encap,
  and a prefix has either one all-port VIP or per-port VIPs, not both.
* ``dscp`` (0-63) is required with l3dsr and refused otherwise; ``type`` and
  ``target_port`` only go with nat4/nat6, which need a protocol and port
  (``target_port`` defaults to the VIP's port, ``type`` to clusterip).
* ``buckets`` and ``new_len`` are powers of two; 0 is not (VPP accepts it).
* a VIP prefix with host bits set is refused, naming the prefix it probably
  meant (VPP silently masks it).
* adding an AS that exists updates its weight (and revives it if draining).
* deleting an AS without ``flush`` drains it: it gets no new buckets, keeps
  its flows, shows as draining and is collected when the flow tracker
  reports its last flow gone (:meth:`LbConfig.set_flow_count`), but not
  before the pending lifetime has passed (:meth:`LbConfig.pending_ended`):
  the data plane may have sent a new flow there that the tracker has not
  learned yet. With ``flush`` it goes at once. Deleting a VIP drains all of
  its ASs the same way (VPP does this too); the VIP stays, draining, until
  they are collected. Adding it again before that revives it, keeping its id
  (its draining flows stay valid), with the settings of the new command; its
  draining ASs keep draining until re-added or aged out.
* ``lb vip ... del`` may repeat the VIP's settings (VPP ignores them); a
  setting that contradicts the VIP being deleted is refused, naming it.

* health checks (``lb health-check``) belong to a live VIP; their probes
  leave from ``lb conf hc4-src-address``/``hc6-src-address`` (the VIP's
  family), which must be configured first and may be neither inside a VIP
  prefix nor a route's host prefix (answers to it go to the controller). An
  all-port or UDP VIP needs ``check_port``; ``timeout`` is at most
  ``interval``. Deleting the VIP deletes its check. Whether an AS is up is
  the health checker's business (``As.healthy``), never saved.

Ids: every VIP and every AS gets a small integer id (1..65535, the P4 program's
16-bit ``vip_id``/``as_id``; 0 means none). Ids are allocated round-robin, so
an id freed by a removal is not handed out again until the others have been
used: flow entries of a removed AS can never be mistaken for a new AS's.
Ids are persisted, so a restarted controller keeps them and no flow moves.

Values and single-value checks are in :mod:`controller.lb_values`; persistence
(JSON) and the running-config command list are in
:mod:`controller.lb_config_document`. This module is longer than most: it is
the one place where rules between objects live, and splitting LbConfig
would scatter them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address

from controller.lb_values import (
    CPU_PORT,
    DEFAULT_NEW_LEN,
    DEFAULT_WEIGHT,
    MAX_BUCKETS,
    MAX_HC_COUNT,
    MAX_HC_FLAP_WINDOW,
    MAX_HC_INTERVAL_MS,
    MAX_ID,
    MAX_NEW_LEN,
    MAX_PENDING_TIMEOUT_MS,
    MAX_PORT,
    MAX_SWITCH_PORT,
    MAX_TIMEOUT,
    MAX_WEIGHT,
    MIN_HC_INTERVAL_MS,
    MIN_HC_TIMEOUT_MS,
    As,
    Conflict,
    Encap,
    FamilyMismatch,
    HealthCheck,
    InvalidValue,
    IPAddress,
    IPNetwork,
    LbConf,
    LbConfigError,
    MacAddress,
    NotFound,
    Protocol,
    Route,
    SrvType,
    State,
    Vip,
    VipKey,
    check_int,
    check_power_of_two,
    format_ms,
    make_vip_key,
    parse_address,
    parse_enum,
    parse_network,
)

__all__ = [
    "As",
    "Conflict",
    "Encap",
    "FamilyMismatch",
    "InvalidValue",
    "LbConf",
    "LbConfig",
    "LbConfigError",
    "MacAddress",
    "NotFound",
    "Protocol",
    "Route",
    "SrvType",
    "State",
    "Vip",
    "VipKey",
    "make_vip_key",
]


class _IdPool:
    """Round-robin allocation of ids 1..limit (see the module docstring for why)."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self.used: set[int] = set()
        self.last = 0

    def allocate(self) -> int:
        if len(self.used) >= self.limit:
            raise Conflict(f"all {self.limit} {self.what} ids are in use")
        candidate = self.last
        while True:
            candidate = candidate % self.limit + 1
            if candidate not in self.used:
                break
        self.used.add(candidate)
        self.last = candidate
        return candidate

    def claim(self, ident: int) -> None:
        check_int(ident, f"{self.what} id", 1, self.limit)
        if ident in self.used:
            raise Conflict(f"{self.what} id {ident} is used twice")
        self.used.add(ident)

    def release(self, ident: int) -> None:
        self.used.discard(ident)


_UNSET: object = object()

# The settings of a VIP besides its key (Vip attribute names), and the CLI
# word of those whose attribute is named differently.
VIP_SETTINGS = ("encap", "dscp", "srv_type", "target_port", "new_len", "src_ip_sticky")
_SETTING_WORDS = {"srv_type": "type"}


class LbConfig:
    """The whole configuration, with one operation per CLI command."""

    def __init__(self, max_vip_id: int = MAX_ID, max_as_id: int = MAX_ID) -> None:
        self._conf = LbConf()
        self._vips: dict[VipKey, Vip] = {}
        self._vip_ids: dict[int, Vip] = {}
        self._as_ids: dict[int, tuple[Vip, As]] = {}
        self._keys_by_prefix: dict[IPNetwork, set[VipKey]] = {}
        self._routes: dict[IPNetwork, Route] = {}
        self.vip_id_pool = _IdPool(max_vip_id, "VIP")
        self.as_id_pool = _IdPool(max_as_id, "AS")
        # Whether the flow counts of the ASs are the flow tracker's, up to date.
        # They are not while a switch has not been read back (after a restart,
        # or on a backup controller whose switches another controller owns):
        # a draining AS then stays until they are, instead of being collected
        # as if it had no flows. A flushed AS goes regardless.
        self.flow_counts_known = True

    # ----------------------------------------------------------------- lb conf

    @property
    def conf(self) -> LbConf:
        return self._conf

    def set_conf(
        self,
        ip4_src: str | IPv4Address | None | object = _UNSET,
        ip6_src: str | IPv6Address | None | object = _UNSET,
        buckets: int | None = None,
        timeout: int | None = None,
        pending_timeout_ms: int | None = None,
        hc4_src: str | IPv4Address | None | object = _UNSET,
        hc6_src: str | IPv6Address | None | object = _UNSET,
    ) -> LbConf:
        """``lb conf``: changes only the settings given."""
        new = self._conf
        if ip4_src is not _UNSET:
            new = _replace_conf(new, ip4_src=_source_address(ip4_src, 4))
        if ip6_src is not _UNSET:
            new = _replace_conf(new, ip6_src=_source_address(ip6_src, 6))
        for name, value, version in (("hc4_src", hc4_src, 4), ("hc6_src", hc6_src, 6)):
            if value is _UNSET:
                continue
            address = _source_address(value, version, f"hc{version}-src-address")
            if address is None and any(v.health and v.prefix.version == version
                                       for v in self._vips.values()):
                raise Conflict(f"hc{version}-src-address: IPv{version} VIPs have health "
                               "checks; delete them first")
            if address is not None and address != getattr(self._conf, name):
                self._check_health_source(address)
            new = _replace_conf(new, **{name: address})
        if buckets is not None:
            new = _replace_conf(new, buckets=check_power_of_two(buckets, "buckets", MAX_BUCKETS))
        if timeout is not None:
            new = _replace_conf(new, timeout=check_int(timeout, "timeout", 1, MAX_TIMEOUT))
        if pending_timeout_ms is not None:
            new = _replace_conf(new, pending_timeout_ms=check_int(
                pending_timeout_ms, "pending-timeout", 0, MAX_PENDING_TIMEOUT_MS))
        self._conf = new
        return new

    # ------------------------------------------------------------------ lb vip

    def add_vip(
        self,
        prefix: str | IPNetwork,
        protocol: str | Protocol | None = None,
        port: int = 0,
        encap: str | Encap = Encap.GRE4,
        dscp: int | None = None,
        srv_type: str | SrvType | None = None,
        target_port: int | None = None,
        new_len: int = DEFAULT_NEW_LEN,
        src_ip_sticky: bool = False,
    ) -> Vip:
        """``lb vip``: adds a VIP. Re-adding an identical VIP changes nothing; re-adding
        a draining one revives it with these settings."""
        key = make_vip_key(prefix, protocol, port)
        vip = Vip(
            key,
            0,
            parse_enum(Encap, encap, "encap"),
            dscp,
            None if srv_type is None else parse_enum(SrvType, srv_type, "type"),
            target_port,
            new_len,
            bool(src_ip_sticky),
        )
        self._complete_vip(vip)
        for source in (self._conf.hc4_src, self._conf.hc6_src):
            if source is not None and source in key.prefix:
                raise Conflict(f"VIP {key} contains the health-check source {source}")
        existing = self._vips.get(key)
        if existing is not None and existing.state is State.DRAINING:
            return self._revive_vip(existing, vip)
        if existing is not None:
            return self._same_vip_again(existing, vip)
        self._check_prefix_neighbours(vip)
        vip.vip_id = self.vip_id_pool.allocate()
        self._insert_vip(vip)
        return vip

    def _complete_vip(self, vip: Vip) -> None:
        """Checks a VIP's own fields and fills the defaults that depend on others."""
        key, encap = vip.key, vip.encap
        if key.prefix.version == 4 and encap is Encap.NAT6:
            raise FamilyMismatch(
                f"VIP {key} encap nat6: NAT46 is not supported (use nat4 with IPv4 ASs)"
            )
        if key.prefix.version == 6 and encap is Encap.NAT4:
            raise FamilyMismatch(
                f"VIP {key} encap nat4: NAT64 is not supported (use nat6 with IPv6 ASs)"
            )
        if key.prefix.version == 6 and encap is Encap.L3DSR:
            raise FamilyMismatch(f"VIP {key} encap l3dsr: L3DSR needs an IPv4 VIP")
        if encap is Encap.L3DSR:
            if vip.dscp is None:
                raise InvalidValue(f"VIP {key} encap l3dsr needs 'dscp N' (0-63)")
            check_int(vip.dscp, "dscp", 0, 63)
        elif vip.dscp is not None:
            raise InvalidValue(f"dscp {vip.dscp} only applies to encap l3dsr, not {encap}")
        if encap.is_nat:
            if key.protocol is None:
                raise InvalidValue(
                    f"VIP {key} encap {encap} needs 'protocol tcp|udp port N': "
                    "NAT rewrites one service port"
                )
            vip.srv_type = vip.srv_type or SrvType.CLUSTERIP
            if vip.target_port is None:
                vip.target_port = key.port
            check_int(vip.target_port, "target_port", 1, MAX_PORT)
        else:
            if vip.srv_type is not None:
                raise InvalidValue(f"type {vip.srv_type} only applies to encap nat4|nat6")
            if vip.target_port is not None:
                raise InvalidValue(f"target_port {vip.target_port} only applies to encap nat4|nat6")
        check_power_of_two(vip.new_len, "new_len", MAX_NEW_LEN)

    def _same_vip_again(self, existing: Vip, vip: Vip) -> Vip:
        different = [s for s in VIP_SETTINGS if getattr(existing, s) != getattr(vip, s)]
        if different:
            now = " ".join(f"{s} {getattr(existing, s)}" for s in different)
            raise Conflict(f"VIP {vip.key} already exists with {now}; delete it first to change it")
        return existing

    def _revive_vip(self, existing: Vip, vip: Vip) -> Vip:
        """A draining VIP added again: live once more, with the new settings.

        It keeps its id, so the flows it still drains stay valid; they now
        use the new settings too. Its draining ASs must fit the new encap.
        """
        self._check_prefix_neighbours(vip, replacing=existing)
        for address in existing.ases:
            self._check_new_as(vip, address, replacing=existing)
        for setting in VIP_SETTINGS:
            setattr(existing, setting, getattr(vip, setting))
        existing.state = State.USED
        return existing

    def _check_prefix_neighbours(self, vip: Vip, replacing: Vip | None = None) -> None:
        """VPP's rules between the VIPs of one prefix, plus NodePort uniqueness.

        ``replacing`` is a VIP of the same key that ``vip`` takes the place of.
        """
        for other_key in self._keys_by_prefix.get(vip.prefix, ()):
            other = self._vips[other_key]
            if other is replacing:
                continue
            if vip.port == 0:
                raise Conflict(
                    f"VIP {vip.key} covers every port but per-port VIP {other_key} "
                    "exists on that prefix"
                )
            if other.port == 0:
                raise Conflict(
                    f"VIP {vip.key} is per-port but all-port VIP {other_key} exists on that prefix"
                )
            if other.encap is not vip.encap:
                raise Conflict(
                    f"VIP {vip.key} encap {vip.encap}: per-port VIPs of {vip.prefix} "
                    f"must share one encap, and {other_key} uses {other.encap}"
                )
        if vip.srv_type is SrvType.NODEPORT:
            for other in self._vips.values():
                if other is replacing:
                    continue
                if other.srv_type is SrvType.NODEPORT and other.port == vip.port:
                    raise Conflict(
                        f"VIP {vip.key} type nodeport: node port {vip.port} is "
                        f"already used by VIP {other.key}"
                    )

    def _insert_vip(self, vip: Vip) -> None:
        self._vips[vip.key] = vip
        self._vip_ids[vip.vip_id] = vip
        self._keys_by_prefix.setdefault(vip.prefix, set()).add(vip.key)

    def del_vip(
        self,
        prefix: str | IPNetwork,
        protocol: str | Protocol | None = None,
        port: int = 0,
        expect: Mapping[str, object] | None = None,
    ) -> Vip:
        """``lb vip ... del``: drains every AS; the VIP goes when their flows are gone.

        ``expect`` maps VIP settings (attribute names, VIP_SETTINGS) to the
        values the command gave; any that differ from the VIP's refuse the
        deletion, naming them all.
        """
        vip = self._live_vip(make_vip_key(prefix, protocol, port))
        wrong = [(s, v) for s, v in (expect or {}).items() if getattr(vip, s) != v]
        if wrong:
            said = ", ".join(_setting_text(s, v) for s, v in wrong)
            has = ", ".join(_setting_text(s, getattr(vip, s)) for s, _ in wrong)
            raise Conflict(f"VIP {vip.key} does not match {said} (it has {has}); "
                           "nothing was deleted")
        vip.state = State.DRAINING
        vip.health = None
        for a in vip.ases.values():
            # No pending hold: without the VIP's entries its pending flows are
            # not load-balanced any more, whichever AS they had.
            a.pending = False
            a.state = State.DRAINING
        self._collect(vip)
        return vip

    def _live_vip(self, key: VipKey) -> Vip:
        vip = self._vips.get(key)
        if vip is None:
            raise NotFound(f"VIP {key} does not exist")
        if vip.state is State.DRAINING:
            raise NotFound(f"VIP {key} was deleted (draining {vip.flows} flows)")
        return vip

    # ------------------------------------------------------------------- lb as

    def add_as(
        self,
        vip_key: VipKey,
        addresses: Iterable[str | IPAddress],
        weight: int | None = None,
    ) -> list[As]:
        """``lb as``: adds ASs, or updates the weight of (and revives) existing ones.

        Without ``weight`` a new AS gets 100 and an existing one keeps its own.
        """
        vip = self._live_vip(vip_key)
        wanted = _unique(parse_address(a, "AS address") for a in addresses)
        if not wanted:
            raise InvalidValue(f"lb as {vip_key}: no AS address given")
        if weight is not None:
            check_int(weight, "weight", 0, MAX_WEIGHT)
        for address in wanted:
            if address not in vip.ases:
                self._check_new_as(vip, address)
        fresh = [a for a in wanted if a not in vip.ases]
        if len(fresh) > self.as_id_pool.limit - len(self.as_id_pool.used):
            raise Conflict(f"lb as {vip_key}: not enough free AS ids for {len(fresh)} ASs")
        result = []
        for address in wanted:
            existing = vip.ases.get(address)
            if existing is None:
                existing = As(address, self.as_id_pool.allocate(), DEFAULT_WEIGHT)
                vip.ases[address] = existing
                self._as_ids[existing.as_id] = (vip, existing)
            existing.state = State.USED
            if weight is not None:
                existing.weight = weight
            result.append(existing)
        return result

    def _check_new_as(self, vip: Vip, address: IPAddress, replacing: Vip | None = None) -> None:
        if address.version != vip.encap.as_version:
            raise FamilyMismatch(
                f"AS {address} is IPv{address.version} but VIP {vip.key} encap "
                f"{vip.encap} sends to IPv{vip.encap.as_version} servers"
            )
        if not vip.encap.is_nat:
            return
        # Return traffic from AS:target_port must map back to exactly one NAT VIP.
        for other in self._vips.values():
            if (
                other is not vip
                and other is not replacing
                and other.encap.is_nat
                and other.protocol is vip.protocol
                and other.target_port == vip.target_port
                and address in other.ases
            ):
                raise Conflict(
                    f"AS {address} {vip.protocol} port {vip.target_port} already serves "
                    f"NAT VIP {other.key}; its answers could not be told apart"
                )

    def del_as(
        self, vip_key: VipKey, addresses: Iterable[str | IPAddress], flush: bool = False
    ) -> list[As]:
        """``lb as ... del [flush]``: drains (or, with flush, removes) ASs.

        Returns the ASs with their new state; for REMOVED ones the caller
        deletes the flows that still use their id.
        """
        vip = self._vips.get(vip_key)
        if vip is None:
            raise NotFound(f"VIP {vip_key} does not exist")
        wanted = _unique(parse_address(a, "AS address") for a in addresses)
        if not wanted:
            raise InvalidValue(f"lb as {vip_key} del: no AS address given")
        for address in wanted:
            if address not in vip.ases:
                raise NotFound(f"AS {address} is not configured on VIP {vip_key}")
        result = [vip.ases[a] for a in wanted]
        if flush:
            vip.flush_epoch = (vip.flush_epoch + 1) % 256
        for a in result:
            a.pending = not flush and (a.pending or a.live)
            a.state = State.DRAINING
            if flush:
                a.flows = 0
        self._collect(vip, flushed=result if flush else ())
        return result

    # ------------------------------------------------------------ lb flush vip

    def flush_vip(self, vip_key: VipKey) -> Vip:
        """``lb flush vip``: forgets the VIP's flows; the caller deletes them.

        Draining ASs (and a draining VIP) are collected at once.
        """
        vip = self._vips.get(vip_key)
        if vip is None:
            raise NotFound(f"VIP {vip_key} does not exist")
        vip.flush_epoch = (vip.flush_epoch + 1) % 256
        for a in vip.ases.values():
            a.flows = 0
            a.pending = False
        self._collect(vip, flushed=list(vip.ases.values()))
        return vip

    # --------------------------------------------------------- lb health-check

    def set_health_check(self, vip_key: VipKey, check: HealthCheck) -> Vip:
        """``lb health-check``: sets (or replaces) the VIP's check of its ASs."""
        vip = self._live_vip(vip_key)
        version = vip.prefix.version
        if getattr(self._conf, f"hc{version}_src") is None:
            raise InvalidValue(f"health checks of IPv{version} VIPs need "
                               f"'lb conf hc{version}-src-address <addr>' first")
        if check.check_port is None and (vip.port == 0 or vip.protocol is Protocol.UDP):
            raise InvalidValue(f"lb health-check {vip_key}: give 'check_port N', the TCP port "
                               "the ASs answer on")
        if check.check_port is not None:
            check_int(check.check_port, "check_port", 1, MAX_PORT)
        if check.address is not None and check.address not in vip.prefix:
            raise InvalidValue(f"address {check.address} is not in VIP prefix {vip.prefix}")
        check_int(check.interval_ms, "interval (ms)", MIN_HC_INTERVAL_MS, MAX_HC_INTERVAL_MS)
        check_int(check.timeout_ms, "timeout (ms)", MIN_HC_TIMEOUT_MS, MAX_HC_INTERVAL_MS)
        if check.timeout_ms > check.interval_ms:
            raise InvalidValue(f"timeout {format_ms(check.timeout_ms)}s is longer than interval "
                               f"{format_ms(check.interval_ms)}s")
        check_int(check.rise, "rise", 1, MAX_HC_COUNT)
        check_int(check.fall, "fall", 1, MAX_HC_COUNT)
        check_int(check.flap_window, "flap_window", 0, MAX_HC_FLAP_WINDOW)
        vip.health = check
        return vip

    def del_health_check(self, vip_key: VipKey) -> Vip:
        """``lb health-check ... del``: its ASs count as up again."""
        vip = self._live_vip(vip_key)
        if vip.health is None:
            raise NotFound(f"VIP {vip_key} has no health check")
        vip.health = None
        return vip

    def _check_health_source(self, address: IPAddress) -> None:
        for vip in self._vips.values():
            if address in vip.prefix:
                raise Conflict(f"health-check source {address} is inside VIP {vip.key}: "
                               "its answers would be taken for VIP traffic")
        host = parse_network(f"{address}/{address.max_prefixlen}", "prefix")
        if host in self._routes:
            raise Conflict(f"health-check source {address}: route {host} exists; its answers "
                           "go to the controller, not along a route")

    def flush_all(self) -> list[Vip]:
        """``test lb flowtable flush``: ``lb flush vip`` for every VIP."""
        vips = self.vips()
        for vip in vips:
            self.flush_vip(vip.key)
        return vips

    # ------------------------------------------------------- flow tracker hook

    def set_flow_count(self, as_id: int, count: int) -> list[As]:
        """The flow tracker's count for one AS; returns what that collected.

        A draining AS whose count reaches 0 is removed (state REMOVED in the
        result), and so is a draining VIP left without ASs. Unknown ids are
        ignored: the AS may have been flushed while the report was on its way.
        """
        check_int(count, "flow count", 0, 1 << 63)
        found = self._as_ids.get(as_id)
        if found is None:
            return []
        vip, a = found
        a.flows = count
        return self._collect(vip) if count == 0 else []

    def as_flows_gone(self, vip_key: VipKey, address: str | IPAddress) -> list[As]:
        """Same as ``set_flow_count(id, 0)`` for an AS named by VIP and address."""
        vip = self._vips.get(vip_key)
        addr = parse_address(address, "AS address")
        if vip is None or addr not in vip.ases:
            raise NotFound(f"AS {addr} is not configured on VIP {vip_key}")
        return self.set_flow_count(vip.ases[addr].as_id, 0)

    def pending_ended(self, as_ids: Iterable[int]) -> list[As]:
        """The pending lifetime of these draining ASs has passed; returns what that collected.

        From here on the tracker's flow count is all the flows they have.
        """
        removed: list[As] = []
        for as_id in as_ids:
            found = self._as_ids.get(as_id)
            if found is not None and found[1].pending:
                found[1].pending = False
                removed += self._collect(found[0])
        return removed

    def collect_drained(self) -> list[As]:
        """Removes every draining AS (and VIP) that has no flows left.

        For after a restart: the persisted configuration does not know the
        flow counts; once the flow tracker has reported them, this collects
        what drained while the controller was down.
        """
        removed: list[As] = []
        for vip in list(self._vips.values()):
            removed += self._collect(vip)
        return removed

    def _collect(self, vip: Vip, flushed: Iterable[As] = ()) -> list[As]:
        gone = {id(a) for a in flushed}
        removed = [
            a for a in vip.ases.values()
            if a.state is State.DRAINING
            and (id(a) in gone or (self.flow_counts_known and a.flows == 0 and not a.pending))
        ]
        for a in removed:
            del vip.ases[a.address]
            del self._as_ids[a.as_id]
            self.as_id_pool.release(a.as_id)
            a.state = State.REMOVED
        if vip.state is State.DRAINING and not vip.ases:
            del self._vips[vip.key]
            del self._vip_ids[vip.vip_id]
            self._keys_by_prefix[vip.prefix].discard(vip.key)
            if not self._keys_by_prefix[vip.prefix]:
                del self._keys_by_prefix[vip.prefix]
            self.vip_id_pool.release(vip.vip_id)
            vip.state = State.REMOVED
        return removed

    # ---------------------------------------------------------------- ip route

    def add_route(
        self,
        prefix: str | IPNetwork,
        port: int,
        next_hop_mac: str | MacAddress,
        src_mac: str | MacAddress | None = None,
        replace: bool = False,
    ) -> Route:
        """``ip route add|replace``. Adding an identical route again changes nothing."""
        route = Route(
            parse_network(prefix, "route prefix"),
            check_int(port, "port", 0, MAX_SWITCH_PORT),
            MacAddress.parse(next_hop_mac, "next-hop MAC"),
            None if src_mac is None else MacAddress.parse(src_mac, "src-mac"),
        )
        if route.port == CPU_PORT:
            raise InvalidValue(f"port {CPU_PORT} is the switch's CPU port (health checks); "
                               "routes cannot use it")
        for source in (self._conf.hc4_src, self._conf.hc6_src):
            if source is not None and route.prefix.prefixlen == source.max_prefixlen \
                    and source in route.prefix:
                raise Conflict(f"route {route.prefix} is the health-check source; its answers "
                               "go to the controller")
        existing = self._routes.get(route.prefix)
        if existing is not None and existing != route and not replace:
            raise Conflict(
                f"route {route.prefix} exists (via {existing.next_hop_mac} port "
                f"{existing.port}); delete it or use 'ip route replace'"
            )
        self._routes[route.prefix] = route
        return route

    def del_route(self, prefix: str | IPNetwork) -> Route:
        network = parse_network(prefix, "route prefix")
        route = self._routes.pop(network, None)
        if route is None:
            raise NotFound(f"route {network} does not exist")
        return route

    # ----------------------------------------------------------------- queries

    def vips(self) -> list[Vip]:
        """Every VIP, draining ones included, in prefix order."""
        return sorted(self._vips.values(), key=lambda v: v.key.sort_key())

    def vip(self, key: VipKey) -> Vip:
        vip = self._vips.get(key)
        if vip is None:
            raise NotFound(f"VIP {key} does not exist")
        return vip

    def vip_by_id(self, vip_id: int) -> Vip | None:
        return self._vip_ids.get(vip_id)

    def as_by_id(self, as_id: int) -> tuple[Vip, As] | None:
        return self._as_ids.get(as_id)

    def routes(self) -> list[Route]:
        return sorted(self._routes.values(), key=lambda r: (r.prefix.version, r.prefix))

    def as_count(self) -> int:
        return len(self._as_ids)

    # -------------------------------------------------- restoring saved state

    def restore_vip(self, vip: Vip) -> None:
        """Inserts a VIP with its ids and states, as a saved document holds it.

        The VIP goes through the same checks as :meth:`add_vip` and its ASs
        through those of :meth:`add_as`; ids must be free.
        """
        ases = list(vip.ases.values())
        vip.ases = {}
        self._complete_vip(vip)
        if vip.key in self._vips:
            raise Conflict(f"VIP {vip.key} is listed twice")
        self._check_prefix_neighbours(vip)
        self.vip_id_pool.claim(vip.vip_id)
        self._insert_vip(vip)
        for a in ases:
            if a.address in vip.ases:
                raise Conflict(f"AS {a.address} is listed twice on VIP {vip.key}")
            self._check_new_as(vip, a.address)
            check_int(a.weight, "weight", 0, MAX_WEIGHT)
            self.as_id_pool.claim(a.as_id)
            vip.ases[a.address] = a
            self._as_ids[a.as_id] = (vip, a)

    def restore_id_cursors(self, last_vip_id: int, last_as_id: int) -> None:
        self.vip_id_pool.last = check_int(last_vip_id, "last VIP id", 0, self.vip_id_pool.limit)
        self.as_id_pool.last = check_int(last_as_id, "last AS id", 0, self.as_id_pool.limit)


def _setting_text(setting: str, value: object) -> str:
    """A VIP setting as the CLI spells it: 'type nodeport', 'no dscp'."""
    word = _SETTING_WORDS.get(setting, setting)
    if value is None or value is False:
        return f"no {word}"
    return word if value is True else f"{word} {value}"


def _replace_conf(conf: LbConf, **changes: object) -> LbConf:
    values = {**conf.__dict__, **changes}
    return LbConf(**values)  # type: ignore[arg-type]


def _source_address(value: object, version: int, what: str | None = None) -> IPAddress | None:
    what = what or f"ip{version}-src-address"
    if value is None:
        return None
    address = parse_address(value, what)  # type: ignore[arg-type]
    if address.version != version:
        raise FamilyMismatch(f"{what} {address} is not an IPv{version} address")
    return address


def _unique(addresses: Iterable[IPAddress]) -> Sequence[IPAddress]:
    return list(dict.fromkeys(addresses))
