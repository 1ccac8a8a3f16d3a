"""The configuration as a JSON document (persistence) and as CLI commands.

The JSON document is what the controller saves and restores at start: it
keeps VIP and AS ids and draining states, so a restarted controller writes
the same table entries and no flow moves. Flow counts are not saved; the flow
tracker reports them again after a restart (then
:meth:`LbConfig.collect_drained`). A document is checked as thoroughly as the
commands that built it; a bad one raises :class:`ConfigDocumentError` naming
the field (``vips[2].ases[0].weight: ...``), never a half-loaded config.

The command list (``show running-config``, ``lbctl -f``) recreates the live
configuration through the CLI: lb conf, VIPs, ASs grouped by weight, routes.
Draining VIPs and ASs are left out, being on their way out; ids are not
commands and are allocated afresh by a replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from controller.lb_model import LbConfig
from controller.lb_values import (
    DEFAULT_BUCKETS,
    DEFAULT_NEW_LEN,
    DEFAULT_PENDING_TIMEOUT_MS,
    DEFAULT_TIMEOUT,
    DEFAULT_WEIGHT,
    MAX_WEIGHT,
    As,
    DownAction,
    Encap,
    HealthCheck,
    LbConfigError,
    SrvType,
    State,
    Vip,
    check_int,
    format_ms,
    make_vip_key,
    parse_address,
    parse_enum,
)

DOCUMENT_FORMAT = "p4lb-config"
DOCUMENT_VERSION = 1


class ConfigDocumentError(LbConfigError):
    """A saved configuration that cannot be loaded; the message names the field."""


# -------------------------------------------------------------------- JSON


def to_document(config: LbConfig) -> dict[str, Any]:
    conf = config.conf
    return {
        "format": DOCUMENT_FORMAT,
        "version": DOCUMENT_VERSION,
        "conf": {
            "ip4_src": None if conf.ip4_src is None else str(conf.ip4_src),
            "ip6_src": None if conf.ip6_src is None else str(conf.ip6_src),
            "buckets": conf.buckets,
            "timeout": conf.timeout,
            "pending_timeout_ms": conf.pending_timeout_ms,
            "hc4_src": None if conf.hc4_src is None else str(conf.hc4_src),
            "hc6_src": None if conf.hc6_src is None else str(conf.hc6_src),
        },
        "last_vip_id": config.vip_id_pool.last,
        "last_as_id": config.as_id_pool.last,
        "vips": [_vip_document(v) for v in config.vips()],
        "routes": [
            {
                "prefix": str(r.prefix),
                "port": r.port,
                "next_hop_mac": str(r.next_hop_mac),
                "src_mac": None if r.src_mac is None else str(r.src_mac),
            }
            for r in config.routes()
        ],
    }


def _vip_document(vip: Vip) -> dict[str, Any]:
    return {
        "id": vip.vip_id,
        "prefix": str(vip.prefix),
        "protocol": None if vip.protocol is None else str(vip.protocol),
        "port": vip.port,
        "encap": str(vip.encap),
        "dscp": vip.dscp,
        "type": None if vip.srv_type is None else str(vip.srv_type),
        "target_port": vip.target_port,
        "new_len": vip.new_len,
        "src_ip_sticky": vip.src_ip_sticky,
        "state": str(vip.state),
        "health": None if vip.health is None else _health_document(vip.health),
        "ases": [
            {"id": a.as_id, "address": str(a.address), "weight": a.weight, "state": str(a.state)}
            for a in vip.sorted_ases()
        ],
    }


def _health_document(check: HealthCheck) -> dict[str, Any]:
    return {
        "check_port": check.check_port,
        "address": None if check.address is None else str(check.address),
        "interval_ms": check.interval_ms,
        "timeout_ms": check.timeout_ms,
        "rise": check.rise,
        "fall": check.fall,
        "on_down": str(check.on_down),
        "flap_window": check.flap_window,
    }


def to_json(config: LbConfig) -> str:
    return json.dumps(to_document(config), indent=1, sort_keys=True) + "\n"


def from_json(text: str | bytes, **limits: int) -> LbConfig:
    """Loads a saved document; ``limits`` are LbConfig's max_vip_id/max_as_id."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigDocumentError(f"not a JSON document: {e}") from None
    except RecursionError:
        raise ConfigDocumentError("not a JSON document: nested too deeply") from None
    return from_document(document, **limits)


class _Fields:
    """Reads one JSON object, naming the path of whatever is missing or wrong."""

    def __init__(self, obj: object, path: str) -> None:
        if not isinstance(obj, dict):
            raise ConfigDocumentError(f"{path or 'document'}: expected an object")
        self.obj = obj
        self.path = path

    def where(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, kinds: type | tuple[type, ...], optional: bool = False) -> Any:
        if name not in self.obj:
            if optional:
                return None
            raise ConfigDocumentError(f"{self.where(name)}: missing")
        value = self.obj[name]
        if value is None and optional:
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
            raise ConfigDocumentError(f"{self.where(name)}: {value!r} has the wrong type")
        return value


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


_T = TypeVar("_T")


def _at(path: str, build: Callable[[], _T]) -> _T:
    """Runs ``build``, prefixing any configuration error with ``path``."""
    try:
        return build()
    except ConfigDocumentError:
        raise
    except LbConfigError as e:
        raise ConfigDocumentError(f"{path}: {e}") from None


def from_document(document: object, **limits: int) -> LbConfig:
    top = _Fields(document, "")
    if top.get("format", str) != DOCUMENT_FORMAT:
        raise ConfigDocumentError(f"format: expected {DOCUMENT_FORMAT!r}")
    version = top.get("version", int)
    if version != DOCUMENT_VERSION:
        raise ConfigDocumentError(
            f"version: {version} is not supported (this controller reads {DOCUMENT_VERSION})"
        )
    config = LbConfig(**limits)
    conf = _Fields(top.get("conf", dict), "conf")
    _at(
        "conf",
        lambda: config.set_conf(
            ip4_src=conf.get("ip4_src", str, optional=True),
            ip6_src=conf.get("ip6_src", str, optional=True),
            buckets=conf.get("buckets", int),
            timeout=conf.get("timeout", int),
            # optional: documents written before the pending table lack it
            pending_timeout_ms=conf.get("pending_timeout_ms", int, optional=True),
            # Absent from documents saved before health checks existed.
            hc4_src=conf.get("hc4_src", str, optional=True),
            hc6_src=conf.get("hc6_src", str, optional=True),
        ),
    )
    for i, raw in enumerate(top.get("vips", list)):
        path = f"vips[{i}]"
        fields = _Fields(raw, path)
        vip = _vip_from_document(fields)
        _at(path, lambda vip=vip: config.restore_vip(vip))
        health = fields.get("health", dict, optional=True)
        if health is not None:
            check = _health_from_document(_Fields(health, f"{path}.health"))
            _at(f"{path}.health",
                lambda vip=vip, check=check: config.set_health_check(vip.key, check))
    _at(
        "last_vip_id",
        lambda: config.restore_id_cursors(top.get("last_vip_id", int), top.get("last_as_id", int)),
    )
    for i, raw in enumerate(top.get("routes", list)):
        route = _Fields(raw, f"routes[{i}]")
        _at(
            route.path,
            lambda route=route: config.add_route(
                route.get("prefix", str),
                route.get("port", int),
                route.get("next_hop_mac", str),
                route.get("src_mac", str, optional=True),
            ),
        )
    return config


def _vip_from_document(fields: _Fields) -> Vip:
    def build() -> Vip:
        key = make_vip_key(
            fields.get("prefix", str),
            fields.get("protocol", str, optional=True),
            fields.get("port", int),
        )
        srv_type = fields.get("type", str, optional=True)
        vip = Vip(
            key,
            fields.get("id", int),
            parse_enum(Encap, fields.get("encap", str), "encap"),
            fields.get("dscp", int, optional=True),
            None if srv_type is None else parse_enum(SrvType, srv_type, "type"),
            fields.get("target_port", int, optional=True),
            fields.get("new_len", int),
            fields.get("src_ip_sticky", bool),
            _state(fields),
        )
        for j, raw in enumerate(fields.get("ases", list)):
            a = _as_from_document(_Fields(raw, f"{fields.path}.ases[{j}]"))
            if vip.state is State.DRAINING and a.state is not State.DRAINING:
                raise ConfigDocumentError(
                    f"{fields.path}.ases[{j}].state: a draining VIP has only draining ASs"
                )
            vip.ases[a.address] = a
        if vip.state is State.DRAINING and not vip.ases:
            raise ConfigDocumentError(f"{fields.path}.state: a draining VIP without ASs")
        return vip

    return _at(fields.path, build)


def _health_from_document(fields: _Fields) -> HealthCheck:
    def build() -> HealthCheck:
        address = fields.get("address", str, optional=True)
        return HealthCheck(
            check_port=fields.get("check_port", int, optional=True),
            address=None if address is None else parse_address(address, "address"),
            interval_ms=fields.get("interval_ms", int),
            timeout_ms=fields.get("timeout_ms", int),
            rise=fields.get("rise", int),
            fall=fields.get("fall", int),
            on_down=parse_enum(DownAction, fields.get("on_down", str), "on_down"),
            flap_window=fields.get("flap_window", int),
        )

    return _at(fields.path, build)


def _as_from_document(fields: _Fields) -> As:
    def build() -> As:
        return As(
            parse_address(fields.get("address", str), "AS address"),
            fields.get("id", int),
            check_int(fields.get("weight", int), "weight", 0, MAX_WEIGHT),
            _state(fields),
        )

    return _at(fields.path, build)


def _state(fields: _Fields) -> State:
    state = parse_enum(State, fields.get("state", str), "state")
    if state is State.REMOVED:
        raise ConfigDocumentError(f"{fields.where('state')}: 'removed' is never saved")
    return state


# ---------------------------------------------------------------- commands


def to_commands(config: LbConfig) -> list[str]:
    """CLI commands that rebuild the live configuration, in a valid order."""
    lines = []
    conf = config.conf
    words = []
    if conf.ip4_src is not None:
        words.append(f"ip4-src-address {conf.ip4_src}")
    if conf.ip6_src is not None:
        words.append(f"ip6-src-address {conf.ip6_src}")
    if conf.buckets != DEFAULT_BUCKETS:
        words.append(f"buckets {conf.buckets}")
    if conf.timeout != DEFAULT_TIMEOUT:
        words.append(f"timeout {conf.timeout}")
    if conf.pending_timeout_ms != DEFAULT_PENDING_TIMEOUT_MS:
        words.append(f"pending-timeout {conf.pending_timeout_ms}")
    if conf.hc4_src is not None:
        words.append(f"hc4-src-address {conf.hc4_src}")
    if conf.hc6_src is not None:
        words.append(f"hc6-src-address {conf.hc6_src}")
    if words:
        lines.append("lb conf " + " ".join(words))
    for vip in config.vips():
        if vip.state is not State.USED:
            continue
        lines.append(vip_command(vip))
        by_weight: dict[int, list[str]] = {}
        for a in vip.sorted_ases():
            if a.state is State.USED:
                by_weight.setdefault(a.weight, []).append(str(a.address))
        for weight, addresses in sorted(by_weight.items(), reverse=True):
            suffix = "" if weight == DEFAULT_WEIGHT else f" weight {weight}"
            lines.append(f"lb as {vip.key} {' '.join(addresses)}{suffix}")
        if vip.health is not None:
            lines.append(health_check_command(vip))
    for r in config.routes():
        line = f"ip route add {r.prefix} via {r.next_hop_mac} port {r.port}"
        if r.src_mac is not None:
            line += f" src-mac {r.src_mac}"
        lines.append(line)
    return lines


def vip_command(vip: Vip) -> str:
    words = [f"lb vip {vip.key} encap {vip.encap}"]
    if vip.dscp is not None:
        words.append(f"dscp {vip.dscp}")
    if vip.srv_type is not None:
        words.append(f"type {vip.srv_type} target_port {vip.target_port}")
    if vip.new_len != DEFAULT_NEW_LEN:
        words.append(f"new_len {vip.new_len}")
    if vip.src_ip_sticky:
        words.append("src_ip_sticky")
    return " ".join(words)


def health_check_command(vip: Vip) -> str:
    """The ``lb health-check`` line of a VIP's check, defaults left out."""
    check, default = vip.health, HealthCheck()
    assert check is not None
    words = [f"lb health-check {vip.key}"]
    if check.check_port is not None:
        words.append(f"check_port {check.check_port}")
    if check.address is not None:
        words.append(f"address {check.address}")
    for name, attr in (("interval", "interval_ms"), ("timeout", "timeout_ms")):
        if getattr(check, attr) != getattr(default, attr):
            words.append(f"{name} {format_ms(getattr(check, attr))}")
    for name in ("rise", "fall", "on_down", "flap_window"):
        if getattr(check, name) != getattr(default, name):
            words.append(f"{name} {getattr(check, name)}")
    return " ".join(words)


__all__ = [
    "ConfigDocumentError",
    "from_document",
    "from_json",
    "health_check_command",
    "to_commands",
    "to_document",
    "to_json",
    "vip_command",
]
