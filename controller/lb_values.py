"""The values a load-balancer configuration is made of, each checked on its own.

Enumerations (encap, protocol, NAT service type, state), the VIP key, MAC
addresses, the records :class:`controller.lb_model.LbConfig` holds (LbConf,
Vip, As, Route), the error classes, and the parsers that turn user input into
these values with an error naming the bad value. Rules that relate several
objects (families, per-port VIPs, ids, draining) are in lb_model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import TypeVar

from controller.maglev_table import MAX_WEIGHT, weighted_quotas

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

DEFAULT_BUCKETS = 1024
DEFAULT_TIMEOUT = 40
DEFAULT_NEW_LEN = 1024
DEFAULT_WEIGHT = MAX_WEIGHT
MAX_NEW_LEN = 1 << 16  # Maglev rows per VIP the controller will write; the P4 key has 24 bits
MAX_BUCKETS = 1 << 31  # VPP: buckets-log2 < 32
MAX_TIMEOUT = (1 << 32) - 1  # seconds, VPP's u32
# How long the data plane remembers a new flow's AS before its entry is
# installed (lb.p4 pending_conf); covers the controller's learning delay.
# 0 turns the pending table off.
DEFAULT_PENDING_TIMEOUT_MS = 2000
MAX_PENDING_TIMEOUT_MS = 600_000
MAX_ID = (1 << 16) - 1  # vip_id_t and as_id_t are bit<16>
MAX_PORT = 0xFFFF
MAX_SWITCH_PORT = 510  # v1model egress_spec is 9 bits and 511 means drop
CPU_PORT = 510  # lb.p4's CPU_PORT (headers.p4): the switch's --cpu-port, never a route's

# Health checks: HAProxy's usual figures (inter 2s, rise 2, fall 3).
DEFAULT_HC_INTERVAL_MS = 2000
DEFAULT_HC_TIMEOUT_MS = 1000
DEFAULT_HC_RISE = 2
DEFAULT_HC_FALL = 3
DEFAULT_HC_FLAP_WINDOW = 60  # seconds; 0: no flap damping
MIN_HC_INTERVAL_MS = 100
MAX_HC_INTERVAL_MS = 3_600_000
MIN_HC_TIMEOUT_MS = 10
MAX_HC_COUNT = 100  # rise, fall
MAX_HC_FLAP_WINDOW = 86_400

_E = TypeVar("_E", bound=enum.StrEnum)


class LbConfigError(Exception):
    """A configuration request that was refused; the message names the bad value."""


class InvalidValue(LbConfigError):
    """A value out of range, of the wrong form, or not allowed with the others given."""


class FamilyMismatch(LbConfigError):
    """An address family that the VIP's encap cannot carry."""


class Conflict(LbConfigError):
    """The request collides with something configured."""


class NotFound(LbConfigError):
    """The request names a VIP, AS or route that is not configured."""


class Encap(enum.StrEnum):
    GRE4 = "gre4"
    GRE6 = "gre6"
    L3DSR = "l3dsr"
    NAT4 = "nat4"
    NAT6 = "nat6"

    @property
    def as_version(self) -> int:
        """IP version of the ASs (and of the outer header) this encap sends to."""
        return 4 if self in (Encap.GRE4, Encap.L3DSR, Encap.NAT4) else 6

    @property
    def is_nat(self) -> bool:
        return self in (Encap.NAT4, Encap.NAT6)


class Protocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"

    @property
    def number(self) -> int:
        return 6 if self is Protocol.TCP else 17


class SrvType(enum.StrEnum):
    CLUSTERIP = "clusterip"
    NODEPORT = "nodeport"


class DownAction(enum.StrEnum):
    """What a health check does to an AS's flows when the AS goes down."""

    DRAIN = "drain"  # no new flows; existing ones stay until they age out
    FLUSH = "flush"  # and its flows are cut at once


class State(enum.StrEnum):
    USED = "used"
    DRAINING = "draining"
    REMOVED = "removed"  # only seen on objects returned by the operation that removed them


def _choices(enum_type: type[enum.StrEnum]) -> str:
    return ", ".join(m.value for m in enum_type)


def parse_enum(enum_type: type[_E], value: str | _E, what: str) -> _E:
    try:
        return enum_type(value)
    except ValueError:
        raise InvalidValue(
            f"unknown {what} {value!r}, expected one of {_choices(enum_type)}"
        ) from None


def parse_network(value: str | IPNetwork, what: str) -> IPNetwork:
    """A prefix; a bare address is a host prefix; host bits must be zero."""
    if isinstance(value, IPv4Network | IPv6Network):
        return value
    text = str(value)
    try:
        return ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ip_network(text, strict=False)
    except ValueError:
        raise InvalidValue(f"{what} {text!r} is not an IPv4 or IPv6 prefix") from None
    raise InvalidValue(f"{what} {text} has host bits set; did you mean {loose}?")


def parse_address(value: str | IPAddress, what: str) -> IPAddress:
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    try:
        address = ip_address(str(value))
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not an IPv4 or IPv6 address") from None
    if isinstance(address, IPv6Address) and address.scope_id is not None:
        raise InvalidValue(f"{what} {value!r} has a scope; the data plane has no zones")
    return address


def check_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"{what} {value!r} is not an integer")
    if not low <= value <= high:
        raise InvalidValue(f"{what} {value} is out of range {low}-{high}")
    return value


def check_power_of_two(value: object, what: str, high: int) -> int:
    check_int(value, what, 0, 1 << 64)
    assert isinstance(value, int)
    if value == 0 or value & (value - 1):
        raise InvalidValue(f"{what} {value} is not a power of two (1, 2, 4, ... {high})")
    if value > high:
        raise InvalidValue(f"{what} {value} is larger than {high}")
    return value


@dataclass(frozen=True, order=True)
class MacAddress:
    value: int

    @classmethod
    def parse(cls, text: str | MacAddress, what: str) -> MacAddress:
        if isinstance(text, MacAddress):
            return text
        parts = str(text).replace("-", ":").split(":")
        if len(parts) != 6 or not all(
            1 <= len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts
        ):
            raise InvalidValue(f"{what} {text!r} is not a MAC address like 02:00:00:00:00:01")
        return cls(int("".join(p.zfill(2) for p in parts), 16))

    def __str__(self) -> str:
        raw = f"{self.value:012x}"
        return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


@dataclass(frozen=True, order=True)
class VipKey:
    """What identifies a VIP: its prefix, and for a per-port VIP protocol and port."""

    prefix: IPNetwork
    protocol: Protocol | None = None
    port: int = 0

    def sort_key(self) -> tuple:
        return (self.prefix.version, self.prefix, self.protocol or "", self.port)

    def __str__(self) -> str:
        if self.protocol is None:
            return str(self.prefix)
        return f"{self.prefix} protocol {self.protocol} port {self.port}"


def make_vip_key(
    prefix: str | IPNetwork, protocol: str | Protocol | None = None, port: int = 0
) -> VipKey:
    """Validates the (prefix, protocol, port) triple that names a VIP."""
    network = parse_network(prefix, "VIP prefix")
    if protocol is None:
        if port != 0:
            raise InvalidValue(f"port {port} needs a protocol (protocol tcp|udp port {port})")
        return VipKey(network)
    proto = parse_enum(Protocol, protocol, "protocol")
    if port == 0:
        raise InvalidValue(
            f"protocol {proto} port 0: port 0 means every port and protocol; "
            "leave out 'protocol ... port ...' or give a port 1-65535"
        )
    check_int(port, "port", 1, MAX_PORT)
    return VipKey(network, proto, port)


@dataclass(frozen=True)
class LbConf:
    ip4_src: IPv4Address | None = None
    ip6_src: IPv6Address | None = None
    buckets: int = DEFAULT_BUCKETS
    timeout: int = DEFAULT_TIMEOUT
    pending_timeout_ms: int = DEFAULT_PENDING_TIMEOUT_MS
    # Sources of health probes: answers to them reach the controller (PacketIn).
    hc4_src: IPv4Address | None = None
    hc6_src: IPv6Address | None = None


@dataclass(frozen=True)
class HealthCheck:
    """A VIP's TCP health check of each of its ASs, through the data path.

    A probe is a TCP SYN from the LB's health-check source to ``address``
    (default: the VIP prefix's first address) port ``check_port`` (default:
    the VIP's port), sent through the AS's encap; a SYN-ACK within
    ``timeout_ms`` is a success, a RST or silence a failure.
    """

    check_port: int | None = None
    address: IPAddress | None = None
    interval_ms: int = DEFAULT_HC_INTERVAL_MS
    timeout_ms: int = DEFAULT_HC_TIMEOUT_MS
    rise: int = DEFAULT_HC_RISE
    fall: int = DEFAULT_HC_FALL
    on_down: DownAction = DownAction.DRAIN
    flap_window: int = DEFAULT_HC_FLAP_WINDOW  # seconds


def format_ms(ms: int) -> str:
    """Milliseconds as the CLI writes seconds: 2000 -> '2', 500 -> '0.5'."""
    whole, frac = divmod(ms, 1000)
    return str(whole) if not frac else f"{whole}.{frac:03d}".rstrip("0")


@dataclass
class As:
    address: IPAddress
    as_id: int
    weight: int = DEFAULT_WEIGHT
    state: State = State.USED
    flows: int = 0  # as last reported by the flow tracker
    # Stopped getting buckets less than a pending lifetime ago: the data plane
    # may still send first packets to it that the tracker has not seen yet,
    # so it is not collected even with no flows (not persisted).
    pending: bool = False
    healthy: bool = True  # its VIP's health check (if any) says it is up; never saved

    @property
    def live(self) -> bool:
        """Gets buckets: new flows may go to it."""
        return self.state is State.USED and self.healthy


@dataclass
class Vip:
    key: VipKey
    vip_id: int
    encap: Encap = Encap.GRE4
    dscp: int | None = None  # l3dsr only
    srv_type: SrvType | None = None  # nat only
    target_port: int | None = None  # nat only
    new_len: int = DEFAULT_NEW_LEN
    src_ip_sticky: bool = False
    state: State = State.USED
    # Bumped (mod 256) when the VIP's flows are flushed: the data plane's
    # pending-flow slots of older epochs are stale (lb.p4 set_vip). Not saved:
    # a controller that starts again at 0 only makes older slots stale too.
    flush_epoch: int = 0
    ases: dict[IPAddress, As] = field(default_factory=dict)
    health: HealthCheck | None = None

    @property
    def prefix(self) -> IPNetwork:
        return self.key.prefix

    @property
    def protocol(self) -> Protocol | None:
        return self.key.protocol

    @property
    def port(self) -> int:
        return self.key.port

    @property
    def vip_type(self) -> str:
        """VPP's name for the (VIP family, encap) pair, e.g. ``ip4-gre6``."""
        return f"ip{self.prefix.version}-{self.encap}"

    @property
    def flows(self) -> int:
        return sum(a.flows for a in self.ases.values())

    def sorted_ases(self) -> list[As]:
        return sorted(self.ases.values(), key=lambda a: a.address.packed)

    def probe_target(self) -> tuple[IPAddress, int] | None:
        """Where the health probes of this VIP go: (address, port); None without a check."""
        if self.health is None:
            return None
        address = self.health.address or self.prefix.network_address
        return address, self.health.check_port or self.port

    def bucket_counts(self) -> dict[IPAddress, int]:
        """Buckets each AS holds in the new-flow table (draining and unhealthy ASs hold none).

        The table gives every live AS exactly its quota, so this needs no
        table build.
        """
        live = [a for a in self.sorted_ases() if a.live]
        quotas = weighted_quotas([a.weight for a in live], self.new_len)
        counts = {a.address: 0 for a in self.ases.values()}
        counts.update((a.address, q) for a, q in zip(live, quotas, strict=True))
        return counts


@dataclass(frozen=True)
class Route:
    prefix: IPNetwork
    port: int
    next_hop_mac: MacAddress
    src_mac: MacAddress | None = None  # None: the data plane's default for the port
