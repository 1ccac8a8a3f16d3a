"""The packet header vector layout: where every header, field, stack and union lives.

BMv2 keeps a PHV of Header objects; here a packet's state is two flat Python
lists, ``F`` (one int per field, all headers concatenated) and ``V`` (one 0/1
validity flag per header instance), so that generated code reads a field as
``F[17]`` with a constant index. This module turns the JSON's ``header_types``,
``headers``, ``header_stacks``, ``header_unions``, ``header_union_stacks``,
``errors`` and ``field_aliases`` into those indices and answers name lookups.

A variable-length (varbit) field takes two slots: its value and, right after
the fixed fields, its current width in bits.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Core parser errors and the values BMv2 gives them when the JSON omits them
# (bm_sim/parser_error.cpp assigns them after the program's own errors).
CORE_ERRORS = (
    "NoError",
    "PacketTooShort",
    "NoMatch",
    "StackOutOfBounds",
    "HeaderTooShort",
    "ParserTimeout",
    "ParserInvalidArgument",
)


MAX_FIELD_BITS = 1 << 16  # far beyond any real header; keeps masks and formats sane


def load_error(element: str, detail: str) -> ValueError:
    """The one way loading reports a bad program: the JSON element is named first."""
    return ValueError(f"BMv2 JSON {element}: {detail}")


# What the loader is working on, so that a malformed value deep inside an
# element (a list where a string belongs...) is still reported by element name.
_current = contextvars.ContextVar("bmv2_json_element", default="program")


def at(element: str) -> str:
    """Note that loading has reached ``element``; returns it for use as ``where``."""
    _current.set(element)
    return element


@contextmanager
def loading() -> Iterator[None]:
    """Turn any failure while loading into a ValueError naming the element."""
    token = _current.set("program")
    try:
        yield
    except ValueError as e:
        if str(e).startswith("BMv2 JSON "):
            raise
        raise load_error(_current.get(), str(e)) from None
    except (TypeError, AttributeError, KeyError, IndexError, OverflowError, RecursionError) as e:
        raise load_error(_current.get(), f"malformed ({type(e).__name__}: {e})") from None
    finally:
        _current.reset(token)


@dataclass
class FieldInfo:
    name: str  # member name inside its header
    header: int  # header id
    slot: int  # index into F
    width: int  # bits; for a varbit field, the maximum
    signed: bool = False
    varbit: bool = False
    width_slot: int = -1  # varbit only: slot holding the current width in bits

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1


@dataclass
class HeaderInfo:
    id: int
    name: str
    type_name: str
    metadata: bool
    base: int  # first slot in F
    fields: list[FieldInfo]
    fixed_bits: int  # bits of the fixed-width fields
    varbit: FieldInfo | None = None
    max_bytes: int = 0  # varbit headers: max_length from the header type
    length_exp: dict | None = None
    union: int | None = None  # index of the header union this header belongs to
    by_name: dict[str, FieldInfo] = field(default_factory=dict)

    @property
    def nslots(self) -> int:
        return len(self.fields) + (1 if self.varbit else 0)

    @property
    def fixed_bytes(self) -> int:
        return self.fixed_bits // 8


@dataclass
class StackInfo:
    index: int  # index into the packet's stack counters N
    name: str
    elements: list[int]  # header ids (for union stacks: union indices)
    is_union_stack: bool = False


@dataclass
class UnionInfo:
    index: int
    name: str
    headers: list[int]  # header ids, in member order
    member_names: list[str]


class Layout:
    """Indices of everything in a packet's state, built from the JSON once."""

    def __init__(self, j: dict) -> None:
        self.headers: list[HeaderInfo] = []
        self.header_by_name: dict[str, HeaderInfo] = {}
        self.stacks: dict[str, StackInfo] = {}
        self.unions: dict[str, UnionInfo] = {}
        self.union_list: list[UnionInfo] = []
        self.union_stacks: dict[str, StackInfo] = {}
        self.aliases: dict[str, tuple[str, str]] = {}
        self.errors: dict[str, int] = {}
        self.enums: dict[str, dict[str, int]] = {}
        self.nslots = 0
        self._load_headers(j)
        self._load_stacks_and_unions(j)
        self._load_errors(j)
        at("field_aliases")
        for item in j.get("field_aliases") or []:
            try:
                alias, (hdr, fld) = item
            except (TypeError, ValueError):
                raise load_error("field_aliases", f"bad alias {item!r}") from None
            self.aliases[alias] = (hdr, fld)
        at("enums")
        for e in j.get("enums") or []:
            self.enums[e.get("name", "?")] = {n: v for n, v in e.get("entries", [])}
        self.nheaders = len(self.headers)
        # header id -> first slot, for dynamic (stack element) field access
        self.header_base = tuple(h.base for h in self.headers)

    # --- loading -------------------------------------------------------------
    def _load_headers(self, j: dict) -> None:
        types: dict[str, dict] = {}
        for t in j.get("header_types") or []:
            name = t.get("name")
            at(f"header type {name!r}")
            if not isinstance(name, str) or not isinstance(t.get("fields"), list):
                raise load_error("header_types", f"header type {name!r} lacks name or fields")
            types[name] = t
        hdrs = sorted(j.get("headers") or [], key=lambda h: h.get("id", 0))
        for expected_id, h in enumerate(hdrs):
            name = h.get("name")
            at(f"header {name!r}")
            if h.get("id") != expected_id:
                raise load_error(f"header {name!r}", f"id {h.get('id')!r} is not {expected_id}")
            t = types.get(h.get("header_type"))
            if t is None:
                raise load_error(
                    f"header {name!r}", f"unknown header_type {h.get('header_type')!r}"
                )
            info = HeaderInfo(
                id=expected_id,
                name=name,
                type_name=t["name"],
                metadata=bool(h.get("metadata", False)),
                base=self.nslots,
                fields=[],
                fixed_bits=0,
            )
            slot = self.nslots
            for f in t["fields"]:
                if not isinstance(f, list) or len(f) < 2:
                    raise load_error(f"header type {t['name']!r}", f"bad field {f!r}")
                fname, width = f[0], f[1]
                signed = bool(f[2]) if len(f) > 2 else False
                if width == "*":
                    if info.varbit is not None:
                        raise load_error(f"header type {t['name']!r}", "two varbit fields")
                    max_len = t.get("max_length")
                    if not isinstance(max_len, int) or not 0 < max_len * 8 <= MAX_FIELD_BITS:
                        raise load_error(f"header type {t['name']!r}", "varbit without max_length")
                    fi = FieldInfo(fname, expected_id, slot, 0, signed, varbit=True)
                    info.varbit = fi
                    info.max_bytes = max_len
                    info.length_exp = t.get("length_exp")
                elif isinstance(width, int) and 0 <= width <= MAX_FIELD_BITS:
                    fi = FieldInfo(fname, expected_id, slot, width, signed)
                    info.fixed_bits += width
                else:
                    raise load_error(
                        f"header type {t['name']!r}", f"field {fname!r} has bad width {width!r}"
                    )
                info.fields.append(fi)
                info.by_name[fname] = fi
                slot += 1
            if info.varbit is not None:
                info.varbit.width_slot = slot
                info.varbit.width = max(0, info.max_bytes * 8 - info.fixed_bits)
                slot += 1
            if not info.metadata and info.fixed_bits % 8:
                raise load_error(
                    f"header {name!r}", f"{info.fixed_bits} bits is not a whole number of bytes"
                )
            self.nslots = slot
            self.headers.append(info)
            self.header_by_name[name] = info

    def _load_stacks_and_unions(self, j: dict) -> None:
        n = 0
        for s in j.get("header_stacks") or []:
            at(f"header_stack {s.get('name')!r}")
            ids = s.get("header_ids")
            if not isinstance(ids, list) or any(
                not isinstance(i, int) or not 0 <= i < len(self.headers) for i in ids
            ):
                raise load_error(f"header_stack {s.get('name')!r}", f"bad header_ids {ids!r}")
            self.stacks[s["name"]] = StackInfo(n, s["name"], list(ids))
            n += 1
        for u in j.get("header_unions") or []:
            at(f"header_union {u.get('name')!r}")
            ids = u.get("header_ids")
            if not isinstance(ids, list) or any(
                not isinstance(i, int) or not 0 <= i < len(self.headers) for i in ids
            ):
                raise load_error(f"header_union {u.get('name')!r}", f"bad header_ids {ids!r}")
            names = [self.headers[i].name for i in ids]
            ut = next(
                (
                    t
                    for t in j.get("header_union_types") or []
                    if t.get("name") == u.get("union_type")
                ),
                None,
            )
            if ut is not None and len(ut.get("headers", [])) == len(ids):
                names = [m[0] for m in ut["headers"]]
            info = UnionInfo(len(self.union_list), u["name"], list(ids), names)
            self.union_list.append(info)
            self.unions[u["name"]] = info
            for i in ids:
                self.headers[i].union = info.index
        for s in j.get("header_union_stacks") or []:
            at(f"header_union_stack {s.get('name')!r}")
            ids = s.get("header_union_ids")
            if not isinstance(ids, list) or any(
                not isinstance(i, int) or not 0 <= i < len(self.union_list) for i in ids
            ):
                raise load_error(
                    f"header_union_stack {s.get('name')!r}", f"bad header_union_ids {ids!r}"
                )
            self.union_stacks[s["name"]] = StackInfo(n, s["name"], list(ids), is_union_stack=True)
            n += 1
        self.nstacks = n

    def _load_errors(self, j: dict) -> None:
        at("errors")
        for item in j.get("errors") or []:
            try:
                name, value = item
            except (TypeError, ValueError):
                raise load_error("errors", f"bad error {item!r}") from None
            self.errors[name] = int(value)
        nxt = max(self.errors.values(), default=-1) + 1
        for name in CORE_ERRORS:
            if name not in self.errors:
                self.errors[name] = nxt
                nxt += 1

    # --- lookups -------------------------------------------------------------
    def header(self, name: str, where: str = "") -> HeaderInfo:
        h = self.header_by_name.get(name)
        if h is None:
            raise load_error(where or "reference", f"unknown header {name!r}")
        return h

    def field(self, hdr: str, fname: str, where: str = "") -> FieldInfo:
        """Resolve a field reference, following simple_switch's field aliases."""
        alias = self.aliases.get(f"{hdr}.{fname}")
        if alias is not None:
            hdr, fname = alias
        h = self.header(hdr, where)
        f = h.by_name.get(fname)
        if f is None:
            raise load_error(where or "reference", f"header {hdr!r} has no field {fname!r}")
        return f

    def find_field(self, dotted: str) -> FieldInfo | None:
        """A simple_switch intrinsic field such as ``intrinsic_metadata.mcast_grp``, if present."""
        candidates = [dotted]
        alias = self.aliases.get(dotted)
        if alias is not None:
            candidates.insert(0, f"{alias[0]}.{alias[1]}")
        # p4c puts v1model's intrinsic fields in standard_metadata
        candidates.append("standard_metadata." + dotted.split(".", 1)[1])
        for c in candidates:
            hdr, _, fname = c.partition(".")
            h = self.header_by_name.get(hdr)
            if h is not None and fname in h.by_name:
                return h.by_name[fname]
        return None

    def initial_state(self) -> tuple[list[int], list[int]]:
        """F and V of a fresh packet: all fields 0, metadata valid, headers invalid."""
        return [0] * self.nslots, [1 if h.metadata else 0 for h in self.headers]
