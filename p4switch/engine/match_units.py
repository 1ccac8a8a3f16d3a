"""Match units (bm_sim match_units.cpp, lookup_structures.cpp): a table's key
and the structures that find the entry matching it.

- exact: a dict keyed by the field value (one field) or a tuple of values;
- lpm: the exact fields and the LPM field concatenated into one int, exact
  fields first as BMv2 orders them; one dict per prefix length, longest first;
- ternary (also tables mixing lpm/optional/exact with ternary): entries sorted
  by priority, each a (value, mask) over the concatenated key; BMv2's rule "a
  numerically lower priority wins" holds (PI inverts P4Runtime's);
- range: like ternary, with a per-field check.

As in BMv2, a key field of an invalid header reads as 0. The data-plane side
is generated source (:meth:`MatchUnit.key_source`, :meth:`MatchUnit.lookup_lines`);
the control-plane side validates and normalises match keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from p4switch.runtime_api import MatchError, MatchKeyParam, MatchKind, RuntimeApiError

from .actions import Action
from .expressions import parse_hexstr
from .externs import Meter
from .layout import Layout, load_error

_KINDS = {k.value: k for k in MatchKind}
_ORDER = {MatchKind.VALID: 0, MatchKind.EXACT: 1, MatchKind.LPM: 2}


@dataclass
class KeyField:
    name: str
    kind: MatchKind
    width: int
    src: str  # source of the field value, 0 when its header is invalid
    json_mask: int | None


class Entry:
    __slots__ = (
        "handle", "params", "form", "priority", "action", "fn", "data", "next", "packets",
        "bytes", "meter", "last_hit", "ttl_ms", "member", "group", "value", "mask", "checks",
        "is_const", "deadline",
    )  # fmt: skip

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0
        self.meter: Meter | None = None
        self.last_hit = 0.0
        self.ttl_ms: int | None = None
        self.member: int | None = None
        self.group: int | None = None
        self.action: Action | None = None
        self.fn: Callable | None = None
        self.data: tuple = ()
        self.next = None
        self.is_const = False
        self.deadline = 0  # ageing: the number of the deadline slot this entry waits in

    def matches_ranges(self, key: tuple) -> bool:
        for v, (kind, a, b) in zip(key, self.checks, strict=False):
            if kind == 0:
                if v & b != a:
                    return False
            elif not a <= v <= b:
                return False
        return True


class MatchUnit:
    def __init__(self, layout: Layout, name: str, match_type: str, keys: list, where: str) -> None:
        self.layout = layout
        self.name = name
        self.match_type = match_type
        if match_type not in ("exact", "lpm", "ternary", "range"):
            raise load_error(where, f"unknown table match_type {match_type!r}")
        self.exact: dict = {}
        self.levels: list[tuple[int, int, dict]] = []  # (prefix, shift, dict), longest first
        self.lpm_lookup: list[tuple[int, dict]] = []  # (shift, dict): what lookups walk
        self.ordered: list[Entry] = []
        self._build_key(keys, where)

    def lookup_lines(self, unit_name: str, exact_name: str) -> list[str]:
        """Source that sets ``e`` to the entry matching key ``k`` (or None);
        ``unit_name``/``exact_name`` are this object's and its dict's bound names."""
        if not self.key:
            return ["    e = None"]
        if self.match_type == "exact":
            return [f"    e = {exact_name}.get(k)"]
        if self.match_type == "lpm":
            return [
                f"    for _s, d in {unit_name}.lpm_lookup:",
                "        e = d.get(k >> _s)",
                "        if e is not None: break",
                "    else: e = None",
            ]
        test = "k & e.mask == e.value" if self.match_type == "ternary" else "e.matches_ranges(k)"
        return [
            f"    for e in {unit_name}.ordered:",
            f"        if {test}: break",
            "    else: e = None",
        ]

    def _build_key(self, keys: list, where: str) -> None:
        lay = self.layout
        self.key: list[KeyField] = []
        for k in keys:
            kind = _KINDS.get(k.get("match_type"))
            if kind is None:
                raise load_error(where, f"unknown key match_type {k.get('match_type')!r}")
            target = k.get("target")
            name = k.get("name") or (".".join(target) if isinstance(target, list) else str(target))
            mask = k.get("mask")
            if kind == MatchKind.VALID:
                h = lay.header(target if isinstance(target, str) else target[0], where)
                kf = KeyField(name, kind, 1, f"V[{h.id}]", None)
            else:
                if not (isinstance(target, list) and len(target) == 2):
                    raise load_error(where, f"bad key target {target!r}")
                if target[1] == "$valid$":
                    h = lay.header(target[0], where)
                    src, width = f"V[{h.id}]", 1
                else:
                    f = lay.field(target[0], target[1], where)
                    h = lay.headers[f.header]
                    width = f.width
                    val = f"(F[{f.slot}] & {f.mask:#x})" if f.signed else f"F[{f.slot}]"
                    src = val if h.metadata else f"({val} if V[{h.id}] else 0)"
                jm = None
                if mask is not None:
                    jm = parse_hexstr(mask, where) & ((1 << width) - 1)
                    low = (jm & -jm).bit_length() - 1 if jm else 0
                    run = jm >> low
                    if jm and run & (run + 1) == 0:
                        # a slice (p4c: key `f[h:l]` -> target f, mask of bits h..l):
                        # the control plane sees the slice's own width
                        src = f"(({src} >> {low}) & {run:#x})"
                        width, jm = run.bit_length(), None
                    else:
                        src = f"({src} & {jm:#x})"
                kf = KeyField(name, kind, width, src, jm)
            self.key.append(kf)
        if self.match_type == "lpm" and sum(k.kind == MatchKind.LPM for k in self.key) != 1:
            raise load_error(where, "an lpm table needs exactly one lpm key field")
        # lpm tables concatenate exact fields first, then the lpm field
        self.lpm_order = sorted(
            range(len(self.key)), key=lambda i: (_ORDER.get(self.key[i].kind, 3), i)
        )
        self.key_bits = sum(k.width for k in self.key)
        # 1 << width of each field when all are exact with no JSON mask (normalize's
        # fast path), else None
        self.exact_tops: tuple[int, ...] | None = None
        if self.key and all(k.kind is MatchKind.EXACT and k.json_mask is None for k in self.key):
            self.exact_tops = tuple(1 << k.width for k in self.key)

    def key_source(self) -> str:
        ks = self.key
        if not ks:
            return "None"
        if self.match_type == "exact":
            if len(ks) == 1:
                return ks[0].src
            return "(" + ", ".join(k.src for k in ks) + ",)"
        if self.match_type == "range":
            return "(" + ", ".join(k.src for k in ks) + ",)"
        order = self.lpm_order if self.match_type == "lpm" else range(len(ks))
        src, first = "", True
        for i in order:
            k = ks[i]
            src = k.src if first else f"(({src}) << {k.width}) | {k.src}"
            first = False
        return src

    def bad_key(self, why: str) -> RuntimeApiError:
        return RuntimeApiError(MatchError.BAD_MATCH_KEY, f"table {self.name!r}: {why}")

    def normalize(self, key: list[MatchKeyParam]) -> list[MatchKeyParam]:
        if not isinstance(key, list) or len(key) != len(self.key):
            n = len(key) if isinstance(key, list) else key
            raise self.bad_key(f"expects {len(self.key)} key fields, got {n}")
        tops = self.exact_tops
        if tops is not None:
            # Every field exact: the key is valid as it is when each param is a
            # plain exact value that fits (what the loop below would accept
            # unchanged). Tables of a million entries take this path.
            exact = MatchKind.EXACT
            for p, top in zip(key, tops, strict=True):
                if (type(p) is not MatchKeyParam or p.kind is not exact
                        or type(p.value) is not int or not 0 <= p.value < top
                        or p.mask is not None or p.high is not None):
                    break
            else:
                return list(key)
        out = []
        for p, kf in zip(key, self.key, strict=False):
            if not isinstance(p, MatchKeyParam):
                raise self.bad_key(f"field {kf.name!r}: {p!r} is not a MatchKeyParam")
            kind = p.kind
            # p4c writes optional keys as ternary in the JSON; accept either name
            loose = {kind, kf.kind} <= {MatchKind.OPTIONAL, MatchKind.TERNARY}
            if kind != kf.kind and not loose:
                raise self.bad_key(f"field {kf.name!r} is {kf.kind.value}, got {kind.value}")
            top = 1 << kf.width
            for label, v in (("value", p.value), ("mask", p.mask), ("high", p.high)):
                if v is not None and (
                    not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < top
                ):
                    raise self.bad_key(
                        f"field {kf.name!r} {label} {v!r} does not fit {kf.width} bits"
                    )
            if kind == MatchKind.LPM:
                if not isinstance(p.prefix_len, int) or not 0 <= p.prefix_len <= kf.width:
                    raise self.bad_key(f"field {kf.name!r} prefix length {p.prefix_len!r}")
                mask = ((1 << p.prefix_len) - 1) << (kf.width - p.prefix_len)
                p = MatchKeyParam(kind, p.value & mask, prefix_len=p.prefix_len)
            elif kind in (MatchKind.TERNARY, MatchKind.OPTIONAL):
                mask = (top - 1) if p.mask is None else p.mask
                p = MatchKeyParam(kind, p.value & mask, mask=mask)
            elif kind == MatchKind.RANGE:
                if p.high is None or p.value > p.high:
                    raise self.bad_key(f"field {kf.name!r} range {p.value!r}..{p.high!r}")
            elif kind == MatchKind.VALID and p.value not in (0, 1):
                raise self.bad_key(f"field {kf.name!r} valid match takes 0 or 1")
            if kf.json_mask is not None and kind in (MatchKind.EXACT,):
                p = MatchKeyParam(kind, p.value & kf.json_mask)
            out.append(p)
        return out

    def lookup_form(self, key: list[MatchKeyParam], priority: int) -> object:
        """The identity of an entry in its lookup structure (duplicates share it)."""
        mt = self.match_type
        if not self.key:
            raise self.bad_key("the table has no key; it takes no entries")
        if mt == "exact":
            # the exact dict's own key: a million flows keep no wrapper around it
            return key[0].value if len(key) == 1 else tuple([p.value for p in key])
        if mt == "lpm":
            value, plen, shift_total = 0, 0, 0
            for i in self.lpm_order:
                p, kf = key[i], self.key[i]
                value = (value << kf.width) | p.value
                plen += p.prefix_len if p.kind == MatchKind.LPM else kf.width
            shift_total = self.key_bits - plen
            return (plen, value >> shift_total)
        if mt == "ternary":
            value = mask = 0
            for p, kf in zip(key, self.key, strict=False):
                if p.kind == MatchKind.LPM:
                    m = ((1 << p.prefix_len) - 1) << (kf.width - p.prefix_len)
                elif p.kind in (MatchKind.TERNARY, MatchKind.OPTIONAL):
                    m = p.mask
                else:
                    m = (1 << kf.width) - 1
                value = (value << kf.width) | (p.value & m)
                mask = (mask << kf.width) | m
            return (value, mask, priority)
        checks = []
        for p, kf in zip(key, self.key, strict=False):
            if p.kind == MatchKind.RANGE:
                checks.append((1, p.value, p.high))
            elif p.kind == MatchKind.LPM:
                m = ((1 << p.prefix_len) - 1) << (kf.width - p.prefix_len)
                checks.append((0, p.value & m, m))
            elif p.kind in (MatchKind.TERNARY, MatchKind.OPTIONAL):
                checks.append((0, p.value & p.mask, p.mask))
            else:
                checks.append((0, p.value, (1 << kf.width) - 1))
        return (tuple(checks), priority)

    def exact_form(self, values: tuple[int, ...]) -> object:
        """``lookup_form`` for an all-exact key given as its field values (ints);
        raises unless each value fits its field. The tuple itself becomes the
        lookup key, so a caller that keeps it shares it with the table."""
        tops = self.exact_tops
        if tops is None or type(values) is not tuple or len(values) != len(tops):
            raise self.bad_key(f"expects the values of {len(self.key)} exact fields, "
                               f"got {values!r}")
        for v, top in zip(values, tops, strict=True):
            if type(v) is not int or not 0 <= v < top:
                raise self.bad_key(f"key value {v!r} does not fit its field")
        return values[0] if len(values) == 1 else values

    def find(self, form: object) -> Entry | None:
        mt = self.match_type
        if mt == "exact":
            return self.exact.get(form)
        if mt == "lpm":
            for plen, _, d in self.levels:
                if plen == form[0]:
                    return d.get(form[1])
            return None
        for e in self.ordered:
            if self.form_of(e) == form:
                return e
        return None

    def match_key(self, e: Entry) -> list[MatchKeyParam]:
        """The entry's key as the control plane gave it (normalised). Exact tables
        do not keep it: it is rebuilt from the lookup key, which saves memory on
        big flow tables."""
        if e.params is not None:
            return list(e.params)
        values = e.form if len(self.key) > 1 else (e.form,)
        return [MatchKeyParam(k.kind, v) for k, v in zip(self.key, values, strict=True)]

    def form_of(self, e: Entry) -> tuple:
        if self.match_type == "ternary":
            return (e.value, e.mask, e.priority)
        return (e.checks, e.priority)

    def insert(self, e: Entry, form: object) -> None:
        mt = self.match_type
        if mt == "exact":
            self.exact[form] = e
        elif mt == "lpm":
            plen, value = form
            for lv in self.levels:
                if lv[0] == plen:
                    lv[2][value] = e
                    break
            else:
                self.levels.append((plen, self.key_bits - plen, {value: e}))
                self.levels.sort(key=lambda x: -x[0])
            self.lpm_lookup = [(s, d) for _, s, d in self.levels]
        else:
            if mt == "ternary":
                e.value, e.mask = form[0], form[1]
            else:
                e.checks = form[0]
            self.ordered.append(e)
            self.ordered.sort(key=lambda x: (x.priority, x.handle))

    def remove(self, e: Entry) -> None:
        mt = self.match_type
        form = e.form
        if mt == "exact":
            del self.exact[form]
        elif mt == "lpm":
            for i, (plen, _, d) in enumerate(self.levels):
                if plen == form[0]:
                    del d[form[1]]
                    if not d:
                        del self.levels[i]
                    break
            self.lpm_lookup = [(s, d) for _, s, d in self.levels]
        else:
            self.ordered.remove(e)
