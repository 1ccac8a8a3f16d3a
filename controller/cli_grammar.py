"""The command language of p4lb: VPP's ``lb`` CLI plus routes, parsed into typed commands.

The grammar is :data:`HELP` (VPP's plugins/lb/cli.c for the ``lb`` commands;
options may come in any order, each at most once).

:func:`parse` returns one of the command dataclasses below; configuration
commands have ``apply(config)`` calling the matching :class:`LbConfig`
operation. Anything the grammar does not allow raises :class:`ParseError`,
whose message quotes the line up to the offending token, then says what was
wrong and what was expected::

    lb vip 10.0.0.1/32 encap gre5: unknown encap 'gre5', expected one of gre4, ...

Every keyword (command words, option names, encap/protocol/type values) may
be shortened to any unambiguous prefix, as in VPP (``sh lb vip verb``); an
ambiguous one is refused naming the candidates.

Where VPP silently accepts nonsense we refuse it: ``flush`` without ``del``,
``weight`` with ``del``, VIP settings with ``del`` that contradict the VIP
being deleted, a port without a protocol. :func:`complete` offers the words
that may come next, for interactive shells.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from controller.lb_model import LbConfig
from controller.lb_values import (
    DEFAULT_NEW_LEN,
    MAX_BUCKETS,
    MAX_NEW_LEN,
    MAX_PENDING_TIMEOUT_MS,
    MAX_PORT,
    MAX_SWITCH_PORT,
    MAX_TIMEOUT,
    MAX_WEIGHT,
    Encap,
    IPAddress,
    IPNetwork,
    LbConfigError,
    MacAddress,
    Protocol,
    SrvType,
    VipKey,
    check_int,
    check_power_of_two,
    make_vip_key,
    parse_address,
    parse_enum,
    parse_network,
)

_T = TypeVar("_T")


class ParseError(LbConfigError):
    """A command line the grammar does not allow.

    ``position`` is the index of the offending token (``len(tokens)`` when the
    line ended too early), ``expected`` the words that would have fitted.
    """

    def __init__(self, context: str, problem: str, position: int, expected: Sequence[str] = ()):
        super().__init__(f"{context}: {problem}" if context else problem)
        self.position = position
        self.expected = tuple(expected)


# ----------------------------------------------------------------- commands


@dataclass(frozen=True)
class ConfCommand:
    ip4_src: IPAddress | None = None
    ip6_src: IPAddress | None = None
    buckets: int | None = None
    timeout: int | None = None
    pending_timeout_ms: int | None = None

    def apply(self, config: LbConfig) -> object:
        changes: dict[str, object] = {
            "buckets": self.buckets, "timeout": self.timeout,
            "pending_timeout_ms": self.pending_timeout_ms,
        }
        if self.ip4_src is not None:
            changes["ip4_src"] = self.ip4_src
        if self.ip6_src is not None:
            changes["ip6_src"] = self.ip6_src
        return config.set_conf(**changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class VipCommand:
    key: VipKey
    encap: Encap = Encap.GRE4
    dscp: int | None = None
    srv_type: SrvType | None = None
    target_port: int | None = None
    new_len: int = DEFAULT_NEW_LEN
    src_ip_sticky: bool = False
    delete: bool = False
    # With delete: the settings the line gave, (Vip attribute, value), to check.
    expect: tuple[tuple[str, object], ...] = ()

    def apply(self, config: LbConfig) -> object:
        k = self.key
        if self.delete:
            return config.del_vip(k.prefix, k.protocol, k.port, dict(self.expect))
        return config.add_vip(
            k.prefix, k.protocol, k.port, self.encap, self.dscp, self.srv_type,
            self.target_port, self.new_len, self.src_ip_sticky,
        )  # fmt: skip


@dataclass(frozen=True)
class AsCommand:
    vip_key: VipKey
    addresses: tuple[IPAddress, ...]
    weight: int | None = None
    delete: bool = False
    flush: bool = False

    def apply(self, config: LbConfig) -> object:
        if self.delete:
            return config.del_as(self.vip_key, self.addresses, self.flush)
        return config.add_as(self.vip_key, self.addresses, self.weight)


@dataclass(frozen=True)
class FlushVipCommand:
    vip_key: VipKey

    def apply(self, config: LbConfig) -> object:
        return config.flush_vip(self.vip_key)


@dataclass(frozen=True)
class FlushAllFlowsCommand:
    """``test lb flowtable flush`` (VPP's name): every VIP's flows."""

    def apply(self, config: LbConfig) -> object:
        return config.flush_all()


@dataclass(frozen=True)
class RouteCommand:
    prefix: IPNetwork
    port: int
    next_hop_mac: MacAddress
    src_mac: MacAddress | None = None
    replace: bool = False

    def apply(self, config: LbConfig) -> object:
        return config.add_route(self.prefix, self.port, self.next_hop_mac, self.src_mac,
                                self.replace)  # fmt: skip


@dataclass(frozen=True)
class RouteDelCommand:
    prefix: IPNetwork

    def apply(self, config: LbConfig) -> object:
        return config.del_route(self.prefix)


@dataclass(frozen=True)
class ShowLbCommand:
    pass


@dataclass(frozen=True)
class ShowVipsCommand:
    verbose: bool = False


@dataclass(frozen=True)
class ShowFlowsCommand:
    vip_key: VipKey | None = None


@dataclass(frozen=True)
class ShowRoutesCommand:
    pass


@dataclass(frozen=True)
class ShowRunningConfigCommand:
    pass


@dataclass(frozen=True)
class HelpCommand:
    pass


ConfigCommand = (
    ConfCommand | VipCommand | AsCommand | FlushVipCommand | FlushAllFlowsCommand
    | RouteCommand | RouteDelCommand
)  # fmt: skip
ShowCommand = (
    ShowLbCommand | ShowVipsCommand | ShowFlowsCommand | ShowRoutesCommand
    | ShowRunningConfigCommand | HelpCommand
)  # fmt: skip
Command = ConfigCommand | ShowCommand

HELP = """\
lb conf [ip4-src-address A] [ip6-src-address A] [buckets N] [buckets-log2 N]
        [timeout S] [pending-timeout MS]
lb vip <prefix> [protocol (tcp|udp) port N] [encap (gre4|gre6|l3dsr|nat4|nat6)]
       [dscp N] [type (clusterip|nodeport)] [target_port N] [new_len N]
       [src_ip_sticky] [del]
lb as <vip-prefix> [protocol (tcp|udp) port N] <addr>... [weight 0-100] [del] [flush]
lb flush vip <prefix> [protocol (tcp|udp) port N]
test lb flowtable flush
show lb
show lb vips [verbose]
show lb flows [vip <prefix> [protocol (tcp|udp) port N]]
ip route add|replace <prefix> via <next-hop-mac> port <N> [src-mac <mac>]
ip route del <prefix>
show ip route
show running-config
help
(any keyword may be shortened to an unambiguous prefix: sh lb vip verb)
"""


# ------------------------------------------------------------------ reader


class _Completion(Exception):
    """Raised in completion mode when the parser reaches the end of the words."""

    def __init__(self, candidates: Iterable[str]) -> None:
        self.candidates = list(candidates)


class _Reader:
    """The words of one line, consumed left to right."""

    def __init__(
        self, tokens: list[str], completing: bool = False, config: LbConfig | None = None
    ) -> None:
        self.tokens = tokens
        self.pos = 0
        self.completing = completing
        self.config = config

    def context(self, upto: int) -> str:
        return " ".join(self.tokens[: upto + 1])

    def fail(self, problem: str, at: int | None = None, expected: Sequence[str] = ()) -> ParseError:
        at = self.pos if at is None else at
        return ParseError(self.context(at), problem, at, expected)

    def done(self, candidates: Iterable[str] = ()) -> bool:
        """True at the end of the line (in completion mode: offer ``candidates``)."""
        if self.pos < len(self.tokens):
            return False
        if self.completing:
            raise _Completion(candidates)
        return True

    def keyword(self, choices: Sequence[str], what: str) -> str:
        if self.done(choices):
            raise self.fail(
                f"missing {what}, expected one of {', '.join(choices)}", expected=choices
            )
        token = self.tokens[self.pos]
        try:
            word = resolve_keyword(token, choices, what)
        except LbConfigError as e:
            raise self.fail(str(e), expected=choices) from None
        if word is None:
            raise self.fail(
                f"unknown {what} {token!r}, expected one of {', '.join(choices)}",
                expected=choices,
            )
        self.pos += 1
        return word

    def value(self, what: str, convert: Callable[[str], _T], candidates: Sequence[str] = ()) -> _T:
        """The next word, converted; errors from ``convert`` are reported at that word."""
        if self.done(candidates):
            raise self.fail(f"expected {what}", expected=candidates)
        token = self.tokens[self.pos]
        try:
            result = convert(token)
        except LbConfigError as e:
            raise self.fail(str(e), expected=candidates) from None
        self.pos += 1
        return result

    def vip_prefixes(self) -> list[str]:
        if self.config is None:
            return []
        return sorted({str(v.prefix) for v in self.config.vips()})


def resolve_keyword(token: str, choices: Sequence[str], what: str) -> str | None:
    """The keyword ``token`` names: itself, or the one choice it is a prefix of.

    None when it names none; an LbConfigError naming the candidates when it
    is a prefix of several (an exact match always wins: ``buckets``).
    """
    if token in choices:
        return token
    matches = [c for c in choices if c.startswith(token)]
    if len(matches) > 1:
        raise LbConfigError(f"ambiguous {what} {token!r}: could be {', '.join(matches)}")
    return matches[0] if matches else None


def _number(what: str, low: int, high: int) -> Callable[[str], int]:
    def convert(token: str) -> int:
        if not token.isascii() or not token.isdigit():
            raise LbConfigError(f"{what} {token!r} is not a decimal number")
        return check_int(int(token), what, low, high)

    return convert


def _power_of_two(what: str, high: int) -> Callable[[str], int]:
    def convert(token: str) -> int:
        return check_power_of_two(_number(what, 0, 1 << 64)(token), what, high)

    return convert


def _choice(enum_type: type[enum.StrEnum], what: str) -> Callable[[str], enum.StrEnum]:
    values = [m.value for m in enum_type]

    def convert(token: str) -> enum.StrEnum:
        return parse_enum(enum_type, resolve_keyword(token, values, what) or token, what)

    return convert


def _options(
    reader: _Reader,
    names: Sequence[str],
    extra: Callable[[str], bool] | None = None,
    extra_candidates: Iterable[str] = (),
    values: dict[str, Callable[[_Reader], object]] | None = None,
) -> dict[str, Any]:
    """Reads ``name [value]`` options in any order, each at most once.

    An option's value is read by its entry in ``values`` (default
    ``_OPTION_VALUES``); an option without an entry is a flag (True).
    ``extra`` may consume a word that is not an option (AS addresses).
    """
    values = _OPTION_VALUES if values is None else values
    seen: dict[str, Any] = {}
    while not reader.done([n for n in names if n not in seen] + list(extra_candidates)):
        try:
            name = resolve_keyword(reader.tokens[reader.pos], names, "option")
        except LbConfigError as e:
            raise reader.fail(str(e), expected=names) from None
        if name is None:
            token = reader.tokens[reader.pos]
            if extra is not None and extra(token):
                continue
            what = "an AS address or one of" if extra is not None else "one of"
            raise reader.fail(
                f"unknown option {token!r}, expected {what} {', '.join(names)}",
                expected=names,
            )
        token = name
        if token in seen:
            raise reader.fail(f"{token!r} is given twice")
        reader.pos += 1
        read_value = values.get(token)
        seen[token] = True if read_value is None else read_value(reader)
    return seen


_OPTION_VALUES: dict[str, Callable[[_Reader], object]] = {
    "ip4-src-address": lambda r: r.value("an IPv4 address", _source(4)),
    "ip6-src-address": lambda r: r.value("an IPv6 address", _source(6)),
    "buckets": lambda r: r.value("a bucket count", _power_of_two("buckets", MAX_BUCKETS)),
    "buckets-log2": lambda r: r.value("a bucket count's log2", _number("buckets-log2", 0, 31)),
    "timeout": lambda r: r.value("a timeout in seconds", _number("timeout", 1, MAX_TIMEOUT)),
    "pending-timeout": lambda r: r.value(
        "a pending lifetime in milliseconds",
        _number("pending-timeout", 0, MAX_PENDING_TIMEOUT_MS),
    ),
    "protocol": lambda r: r.value(
        "a protocol: tcp, udp", _choice(Protocol, "protocol"), [p.value for p in Protocol]
    ),
    "port": lambda r: r.value("a port number", _number("port", 0, MAX_PORT)),
    "encap": lambda r: r.value(
        "an encap: " + ", ".join(e.value for e in Encap),
        _choice(Encap, "encap"),
        [e.value for e in Encap],
    ),
    "dscp": lambda r: r.value("a DSCP value 0-63", _number("dscp", 0, 63)),
    "type": lambda r: r.value(
        "a service type: clusterip, nodeport",
        _choice(SrvType, "type"),
        [t.value for t in SrvType],
    ),  # fmt: skip
    "target_port": lambda r: r.value("a port number", _number("target_port", 1, MAX_PORT)),
    "new_len": lambda r: r.value("a table size", _power_of_two("new_len", MAX_NEW_LEN)),
    "weight": lambda r: r.value("a weight 0-100", _number("weight", 0, MAX_WEIGHT)),
    "via": lambda r: r.value("a next-hop MAC address", lambda t: MacAddress.parse(t, "MAC")),
    "src-mac": lambda r: r.value("a source MAC address", lambda t: MacAddress.parse(t, "MAC")),
}

_ROUTE_OPTION_VALUES = {
    **_OPTION_VALUES,
    # A switch port, not an L4 port.
    "port": lambda r: r.value("a switch port number", _number("port", 0, MAX_SWITCH_PORT)),
}


def _source(version: int) -> Callable[[str], IPAddress]:
    what = f"ip{version}-src-address"

    def convert(token: str) -> IPAddress:
        address = parse_address(token, what)
        if address.version != version:
            raise LbConfigError(f"{what} {address} is not an IPv{version} address")
        return address

    return convert


def _vip_key(reader: _Reader, prefix: IPNetwork, seen: dict[str, Any]) -> VipKey:
    """The VIP key from a prefix and the protocol/port options read after it."""
    protocol, port = seen.get("protocol"), seen.get("port")
    if protocol is not None and port is None:
        raise reader.fail(f"protocol {protocol} needs 'port N'", at=len(reader.tokens) - 1)
    try:
        return make_vip_key(prefix, protocol, 0 if port is None else port)
    except LbConfigError as e:
        raise reader.fail(str(e), at=len(reader.tokens) - 1) from None


def _prefix(reader: _Reader, what: str = "VIP prefix") -> IPNetwork:
    return reader.value(f"a {what}", lambda t: parse_network(t, what), reader.vip_prefixes())


# ---------------------------------------------------------------- commands


def _lb_conf(reader: _Reader) -> ConfCommand:
    names = ("ip4-src-address", "ip6-src-address", "buckets", "buckets-log2", "timeout",
             "pending-timeout")
    if reader.done(names):
        raise reader.fail(f"expected one of {', '.join(names)}", expected=names)
    seen = _options(reader, names)
    buckets = seen.get("buckets")
    if "buckets-log2" in seen:
        if buckets is not None:
            raise reader.fail("give buckets or buckets-log2, not both", at=len(reader.tokens) - 1)
        buckets = 1 << seen["buckets-log2"]
    return ConfCommand(
        seen.get("ip4-src-address"), seen.get("ip6-src-address"), buckets, seen.get("timeout"),
        seen.get("pending-timeout"),
    )


# The VIP settings' CLI words and the Vip attributes they set.
_VIP_SETTINGS = {"encap": "encap", "dscp": "dscp", "type": "srv_type",
                 "target_port": "target_port", "new_len": "new_len",
                 "src_ip_sticky": "src_ip_sticky"}  # fmt: skip


def _lb_vip(reader: _Reader) -> VipCommand:
    prefix = _prefix(reader)
    seen = _options(reader, ("protocol", "port", *_VIP_SETTINGS, "del"))
    key = _vip_key(reader, prefix, seen)
    if "del" in seen:
        # VPP accepts the VIP's settings with del; the model checks they fit it.
        expect = tuple((attr, seen[word]) for word, attr in _VIP_SETTINGS.items()
                       if word in seen)  # fmt: skip
        return VipCommand(key, delete=True, expect=expect)
    return VipCommand(
        key,
        seen.get("encap", Encap.GRE4),
        seen.get("dscp"),
        seen.get("type"),
        seen.get("target_port"),
        seen.get("new_len", DEFAULT_NEW_LEN),
        "src_ip_sticky" in seen,
    )


def _lb_as(reader: _Reader) -> AsCommand:
    prefix = _prefix(reader)
    addresses: list[IPAddress] = []

    def address(token: str) -> bool:
        try:
            addresses.append(parse_address(token, "AS address"))
        except LbConfigError as e:
            if "." in token or ":" in token:  # meant as an address, not an option
                raise reader.fail(str(e)) from None
            return False
        reader.pos += 1
        return True

    known: list[str] = []
    if reader.config is not None:
        known = [str(a.address) for v in reader.config.vips() if v.prefix == prefix
                 for a in v.sorted_ases()]  # fmt: skip
    seen = _options(reader, ("protocol", "port", "weight", "del", "flush"), address, known)
    key = _vip_key(reader, prefix, seen)
    last = len(reader.tokens) - 1
    if not addresses:
        raise reader.fail("expected at least one AS address", at=last)
    if "flush" in seen and "del" not in seen:
        raise reader.fail("'flush' only goes with 'del'", at=last)
    if "weight" in seen and "del" in seen:
        raise reader.fail("'weight' does not go with 'del'", at=last)
    return AsCommand(key, tuple(addresses), seen.get("weight"), "del" in seen, "flush" in seen)


def _vip_key_after(reader: _Reader) -> VipKey:
    prefix = _prefix(reader)
    seen = _options(reader, ("protocol", "port"))
    return _vip_key(reader, prefix, seen)


def _lb(reader: _Reader) -> Command:
    word = reader.keyword(("conf", "vip", "as", "flush"), "lb command")
    if word == "conf":
        return _lb_conf(reader)
    if word == "vip":
        return _lb_vip(reader)
    if word == "as":
        return _lb_as(reader)
    reader.keyword(("vip",), "flush target")
    return FlushVipCommand(_vip_key_after(reader))


def _show(reader: _Reader) -> Command:
    word = reader.keyword(("lb", "ip", "running-config"), "show target")
    if word == "running-config":
        _end(reader)
        return ShowRunningConfigCommand()
    if word == "ip":
        reader.keyword(("route",), "show ip target")
        _end(reader)
        return ShowRoutesCommand()
    if reader.done(("vips", "flows")):
        return ShowLbCommand()
    word = reader.keyword(("vips", "flows"), "show lb target")
    if word == "vips":
        verbose = False
        if not reader.done(("verbose",)):
            verbose = reader.keyword(("verbose",), "option") == "verbose"
            _end(reader)
        return ShowVipsCommand(verbose)
    if reader.done(("vip",)):
        return ShowFlowsCommand()
    reader.keyword(("vip",), "option")
    return ShowFlowsCommand(_vip_key_after(reader))


def _ip(reader: _Reader) -> Command:
    reader.keyword(("route",), "ip command")
    word = reader.keyword(("add", "replace", "del"), "route command")
    prefix = _prefix(reader, "route prefix")
    if word == "del":
        _end(reader)
        return RouteDelCommand(prefix)
    seen = _options(reader, ("via", "port", "src-mac"), values=_ROUTE_OPTION_VALUES)
    missing = [n for n in ("via", "port") if n not in seen]
    if missing:
        raise reader.fail(f"expected '{missing[0]}'", at=len(reader.tokens) - 1, expected=missing)
    return RouteCommand(prefix, seen["port"], seen["via"], seen.get("src-mac"), word == "replace")


def _end(reader: _Reader) -> None:
    if not reader.done():
        raise reader.fail(f"unexpected {reader.tokens[reader.pos]!r} at the end of the command")


def _test(reader: _Reader) -> Command:
    reader.keyword(("lb",), "test command")
    reader.keyword(("flowtable",), "test lb command")
    reader.keyword(("flush",), "flowtable command")
    _end(reader)
    return FlushAllFlowsCommand()


def _command(reader: _Reader) -> Command:
    word = reader.keyword(("lb", "show", "ip", "test", "help"), "command")
    if word == "lb":
        return _lb(reader)
    if word == "show":
        return _show(reader)
    if word == "ip":
        return _ip(reader)
    if word == "test":
        return _test(reader)
    _end(reader)
    return HelpCommand()


def parse(line: str) -> Command:
    """Parses one command line; raises ParseError naming the offending word."""
    return _command(_Reader(line.split()))


def complete(line: str, config: LbConfig | None = None) -> list[str]:
    """Words that can replace the last (partial) word of ``line``.

    A line ending in a space asks for the next word. With ``config``, VIP
    prefixes and AS addresses are offered too; numbers never are.
    """
    tokens = line.split()
    partial = "" if not line or line[-1].isspace() else tokens.pop()
    try:
        _command(_Reader(tokens, completing=True, config=config))
    except _Completion as c:
        return sorted({w for w in c.candidates if w.startswith(partial)})
    except ParseError:
        return []
    return []
