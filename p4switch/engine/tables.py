"""Match-action tables (bm_sim match_tables.cpp): entries, default entries,
indirect (action profile) tables, direct counters and meters, ageing data,
and the generated data-plane function ``apply(P) -> next node``.

Matching itself (keys, lookup structures) is match_units.py. As in BMv2, a
hit updates the entry's direct counter and its last-hit time (ageing), and a
direct meter runs before the action. Entry handles are never reused.

Past 600 lines because Table is one class, as BMv2's MatchTable is: entries,
the default entry, indirect entries, direct resources and ageing all change
the same entries, and an entry's life cycle reads in one place.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

from p4switch.runtime_api import (
    ActionCall,
    MatchError,
    MatchKeyParam,
    MatchKind,
    RuntimeApiError,
    TableEntry,
    TableInfo,
)

from .action_profiles import ActionProfile
from .actions import Action
from .expressions import parse_hexstr
from .externs import CounterArray, Meter, MeterArray
from .layout import at, load_error
from .match_units import Entry, KeyField, MatchUnit
from .packet import Packet
from .primitives import BuildContext

_KINDS = {k.value: k for k in MatchKind}
_ARG_SEQUENCES = (list, tuple)  # what ActionCall.args may be


# Ageing notices a TTL up to this late (the sweep itself runs once a second).
AGEING_SLOT_S = 0.1


def _noop(P: Packet, D: tuple) -> None:
    pass


class Table:
    def __init__(self, cx: BuildContext, tj: dict, actions: dict[int, Action],
                 profiles: dict[str, ActionProfile], counters: dict[str, CounterArray],
                 meters: dict[str, MeterArray]) -> None:  # fmt: skip
        self.cx = cx
        self.clock = cx.clock  # seconds, monotonic: last-hit times for ageing
        self.name = tj.get("name")
        where = at(f"table {self.name!r}")
        self.where = where
        self.match_type = tj.get("match_type", "exact")
        self.type = tj.get("type", "simple")
        if self.type not in ("simple", "indirect", "indirect_ws"):
            raise load_error(where, f"unknown table type {self.type!r}")
        self.max_size = int(tj.get("max_size", 1024))
        self.support_timeout = bool(tj.get("support_timeout", False))
        self.profile: ActionProfile | None = None
        if self.type != "simple":
            self.profile = profiles.get(tj.get("action_profile"))
            if self.profile is None:
                raise load_error(where, f"unknown action profile {tj.get('action_profile')!r}")
            if self.type == "indirect_ws" and self.profile.selector is None:
                raise load_error(where, "indirect_ws table with a profile without selector")
        # actions: by name, from action_ids when present (names may repeat in a program)
        self.actions: dict[str, Action] = {}
        ids = tj.get("action_ids")
        names = tj.get("actions") or []
        if ids is not None:
            for aid in ids:
                a = actions.get(aid)
                if a is None:
                    raise load_error(where, f"unknown action id {aid!r}")
                self.actions[a.name] = a
        else:
            by_name = {a.name: a for a in actions.values()}
            for n in names:
                if n not in by_name:
                    raise load_error(where, f"unknown action {n!r}")
                self.actions[n] = by_name[n]
        if self.profile is not None:
            self.profile.actions.update(self.actions)
        self.mu = MatchUnit(cx.layout, self.name, self.match_type, tj.get("key") or [], where)
        self.key = self.mu.key
        # direct resources
        self.direct_counter: CounterArray | None = None
        if tj.get("with_counters"):
            self.direct_counter = next(
                (c for c in counters.values() if c.binding == self.name),
                CounterArray(f"{self.name}$counter", 0, self.name),
            )
        self.direct_meter: MeterArray | None = None
        self.meter_target: int | None = None
        dm = tj.get("direct_meters")
        if dm is not None:
            self.direct_meter = meters.get(dm)
            if self.direct_meter is None:
                raise load_error(where, f"unknown direct meter {dm!r}")
            target = self.direct_meter.result_target
            if not (isinstance(target, list) and len(target) == 2):
                raise load_error(where, f"direct meter {dm!r} has no result_target")
            self.meter_target = cx.layout.field(target[0], target[1], where).slot
        self.next_tables = tj.get("next_tables") or {}
        self.base_default_next = tj.get("base_default_next")
        self.hit_miss = "__HIT__" in self.next_tables or "__MISS__" in self.next_tables
        self.default_entry_json = tj.get("default_entry")
        self.const_entries_json = tj.get("entries")
        # state
        self.entries: dict[int, Entry] = {}
        self._next_handle = 0
        self.immutable = False
        self._data: dict[tuple, tuple] = {}
        # (action name, args) -> (Action, shared data, next node): what check_action
        # and setup work out, once per distinct call (a table of 65,536 buckets
        # names ~100 ASs); bounded as _data is.
        self._calls: dict[tuple, tuple[Action, tuple, object]] = {}
        # ageing: handles waiting by deadline, in slots of AGEING_SLOT_S (slot number ->
        # (that number, handles)), and a heap of the slot numbers in use. An entry
        # costs one list item, not a (deadline, handle) tuple and a float of its own.
        self._slots: dict[int, tuple[int, list[int]]] = {}
        self._slot_heap: list[int] = []
        self._idle: set[int] = set()  # handles past their TTL, until hit or deleted
        self.const_default_action: Action | None = None
        self.const_default_entry = False
        self.default = Entry()
        self.default.fn = _noop
        self.default_default = self.default
        self.default_member: int | None = None
        self.default_group: int | None = None
        self.apply: Callable[[Packet], object] = self._generate_apply()

    # --- key ------------------------------------------------------------------------
    # --- the data-plane function ------------------------------------------------------
    def _generate_apply(self) -> Callable[[Packet], object]:
        unit = self.cx.unit
        T = unit.bind("T", self)
        name = unit.fresh("_tbl")
        L = [f"def {name}(P):", "    F = P.F; V = P.V", f"    k = {self.mu.key_source()}"]
        L += self.mu.lookup_lines(unit.bind("mu", self.mu), unit.bind("ex", self.mu.exact))
        if self.profile is not None:
            L += ["    return " + f"{T}.run_indirect(P, e)"]
            return unit.define(name, "\n".join(L) + "\n")
        L += [
            "    if e is None:",
            f"        d = {T}.default",
            "        d.fn(P, d.data)",
            "        return d.next",
        ]
        if self.direct_counter is not None:
            L.append("    e.packets += 1; e.bytes += P.ingress_length")
        if self.support_timeout:
            L.append(f"    e.last_hit = {unit.bind('now', self.clock)}()")
        if self.direct_meter is not None:
            L.append(f"    F[{self.meter_target}] = e.meter.execute(P.ingress_length)")
        L += ["    e.fn(P, e.data)", "    return e.next"]
        return unit.define(name, "\n".join(L) + "\n")

    def run_indirect(self, P: Packet, e: Entry | None) -> object:
        prof = self.profile
        assert prof is not None
        if e is None:
            member, group, hit = self.default_member, self.default_group, False
            if member is None and group is None:
                d = self.default
                d.fn(P, d.data)
                return d.next
        else:
            member, group, hit = e.member, e.group, True
            if self.direct_counter is not None:
                e.packets += 1
                e.bytes += P.ingress_length
            if self.support_timeout:
                e.last_hit = self.clock()
            if self.direct_meter is not None:
                P.F[self.meter_target] = e.meter.execute(P.ingress_length)  # type: ignore[union-attr]
        m = prof.members.get(member) if member is not None else prof.choose(group, P)  # type: ignore[arg-type]
        if m is None:
            return self.next_for(None, hit)  # an empty group runs no action (BMv2 logs it)
        m.action.fn(P, m.data)
        return self.next_for(m.action, hit)

    # --- next nodes ---------------------------------------------------------------------
    def resolve_next(self, node: Callable[[str | None], object]) -> None:
        """Called once the control graph's nodes exist: ``node(name)`` gives a node."""
        self._node = node
        if self.hit_miss:
            self.next_hit = node(self.next_tables.get("__HIT__"))
            self.next_miss = node(self.next_tables.get("__MISS__"))
        self.next_by_action = {}
        for a in self.actions.values():
            if not self.hit_miss and a.name not in self.next_tables:
                raise load_error(self.where, f"next_tables lacks action {a.name!r}")
            self.next_by_action[a.name] = node(self.next_tables.get(a.name))
        miss_default = self.next_miss if self.hit_miss else node(self.base_default_next)
        self.default.next = miss_default

    def next_for(self, action: Action | None, hit: bool) -> object:
        if self.hit_miss:
            return self.next_hit if hit else self.next_miss
        if action is None:
            return self.default_default.next
        return self.next_by_action[action.name]

    def load_static_entries(self) -> None:
        """The JSON's default_entry and const entries (after resolve_next)."""
        at(self.where)
        dj = self.default_entry_json
        if dj is not None:
            a = self._action_by_id(dj.get("action_id"))
            data = [parse_hexstr(x, self.where) for x in dj.get("action_data") or []]
            why = a.check_data(data)
            if why:
                raise load_error(self.where, f"default_entry: {why}")
            e = Entry()
            e.action, e.fn, e.data = a, a.fn, tuple(data)
            e.next = self.next_for(a, False)
            self.default = self.default_default = e
            if dj.get("action_entry_const"):
                self.const_default_entry = True
            if dj.get("action_const"):
                self.const_default_action = a
        for i, ej in enumerate(self.const_entries_json or []):
            try:
                key = [
                    self._json_key_param(k, kf)
                    for k, kf in zip(ej["match_key"], self.key, strict=False)
                ]
                ae = ej["action_entry"]
                a = self._action_by_id(ae["action_id"])
                data = [parse_hexstr(x, self.where) for x in ae.get("action_data") or []]
                self.add_entry(key, ActionCall(a.name, data), int(ej.get("priority", 0)))
            except (KeyError, TypeError, RuntimeApiError) as err:
                raise load_error(self.where, f"const entry #{i}: {err}") from None
        if self.const_entries_json:
            self.immutable = True
            for e in self.entries.values():
                e.is_const = True

    def _action_by_id(self, aid: object) -> Action:
        for a in self.actions.values():
            if a.id == aid:
                return a
        raise load_error(self.where, f"action id {aid!r} is not an action of the table")

    def _json_key_param(self, k: dict, kf: KeyField) -> MatchKeyParam:
        mt = _KINDS.get(k.get("match_type"))
        if mt == MatchKind.VALID:
            return MatchKeyParam(mt, 1 if k.get("key") else 0)
        if mt == MatchKind.EXACT:
            return MatchKeyParam(mt, parse_hexstr(k["key"], self.where))
        if mt == MatchKind.LPM:
            return MatchKeyParam(
                mt, parse_hexstr(k["key"], self.where), prefix_len=k["prefix_length"]
            )
        if mt in (MatchKind.TERNARY, MatchKind.OPTIONAL):
            return MatchKeyParam(mt, parse_hexstr(k["key"], self.where),
                                 mask=parse_hexstr(k["mask"], self.where))  # fmt: skip
        if mt == MatchKind.RANGE:
            return MatchKeyParam(mt, parse_hexstr(k["start"], self.where),
                                 high=parse_hexstr(k["end"], self.where))  # fmt: skip
        raise KeyError(f"unknown match_type {k.get('match_type')!r}")

    # --- control plane: validation --------------------------------------------------------
    def info(self) -> TableInfo:
        return TableInfo(
            name=self.name,
            key=[(k.name, k.kind, k.width) for k in self.key],
            actions=list(self.actions),
            is_indirect=self.profile is not None,
            action_profile=self.profile.name if self.profile else None,
            with_selector=self.type == "indirect_ws",
            support_timeout=self.support_timeout,
            direct_counter=self.direct_counter.name if self.direct_counter else None,
            direct_meter=self.direct_meter.name if self.direct_meter else None,
            max_size=self.max_size,
            const_default_action=self.const_default_action is not None or self.const_default_entry,
            has_const_entries=self.immutable,
        )

    def _shared(self, data: tuple) -> tuple:
        """One tuple per distinct action data: a million flows to a few servers
        then share a few tuples. Bounded, so unique data cannot grow it forever."""
        if len(self._data) < 4096:
            return self._data.setdefault(data, data)
        return self._data.get(data, data)

    def check_action(self, action: ActionCall) -> Action:
        if not isinstance(action, ActionCall):
            raise RuntimeApiError(MatchError.BAD_ACTION_DATA, f"{action!r} is not an ActionCall")
        a = self.actions.get(action.name) if isinstance(action.name, str) else None
        if a is None:
            raise RuntimeApiError(
                MatchError.INVALID_ACTION_NAME,
                f"action {action.name!r} is not an action of table {self.name!r}",
            )
        if not isinstance(action.args, _ARG_SEQUENCES):
            raise RuntimeApiError(MatchError.BAD_ACTION_DATA, f"bad action data {action.args!r}")
        why = a.check_data(action.args)
        if why:
            raise RuntimeApiError(MatchError.BAD_ACTION_DATA, why)
        return a

    def _checked_call(self, action: ActionCall) -> tuple[Action, tuple, object]:
        """``check_action`` and the entry's (action, data, next) for ``action``,
        remembered per distinct call."""
        key: tuple | None = None
        found = None
        if isinstance(action, ActionCall) and isinstance(action.args, _ARG_SEQUENCES):
            args = tuple(action.args)
            # Only ints: True and 1.0 hash as 1 does, and check_data refuses them.
            for v in args:
                if type(v) is not int:
                    break
            else:
                key = (action.name, args)
                found = self._calls.get(key)
        if found is None:
            a = self.check_action(action)
            found = (a, self._shared(tuple(action.args)), self.next_for(a, True))
            if key is not None and len(self._calls) < 4096:
                self._calls[key] = found
        return found

    def entry(self, handle: int) -> Entry:
        e = self.entries.get(handle) if isinstance(handle, int) else None
        if e is None:
            raise RuntimeApiError(
                MatchError.INVALID_HANDLE, f"table {self.name!r} has no entry {handle!r}"
            )
        return e

    # --- control plane: entries -----------------------------------------------------------
    def add(self, key: list[MatchKeyParam], priority: int, setup: Callable[[Entry], None]) -> int:
        if self.immutable:
            raise RuntimeApiError(
                MatchError.IMMUTABLE_TABLE_ENTRIES, f"table {self.name!r} has const entries"
            )
        key = self.mu.normalize(key)
        if self.match_type not in ("ternary", "range"):
            priority = -1
        elif not isinstance(priority, int) or priority < 0:
            raise self.mu.bad_key(
                f"a {self.match_type} table needs a priority >= 0, got {priority!r}"
            )
        return self._add(self.mu.lookup_form(key, priority),
                         None if self.match_type == "exact" else key, priority, setup)

    def _add(self, form: object, params: list[MatchKeyParam] | None, priority: int,
             setup: Callable[[Entry], None]) -> int:
        if self.mu.find(form) is not None:
            raise RuntimeApiError(
                MatchError.DUPLICATE_ENTRY, f"table {self.name!r} already has an entry for this key"
            )
        if len(self.entries) >= self.max_size:
            raise RuntimeApiError(
                MatchError.TABLE_FULL, f"table {self.name!r} is full ({self.max_size} entries)"
            )
        e = Entry()
        e.params = params
        e.form = form
        e.priority = priority
        e.handle = self._next_handle
        e.last_hit = self.clock()
        setup(e)
        if self.direct_meter is not None:
            e.meter = Meter(self.direct_meter.by_packets)
        self._next_handle += 1
        self.entries[e.handle] = e
        self.mu.insert(e, form)
        return e.handle

    def add_entry(self, key: list[MatchKeyParam], action: ActionCall, priority: int) -> int:
        if self.profile is not None:
            raise RuntimeApiError(MatchError.WRONG_TABLE_TYPE, f"table {self.name!r} is indirect")
        a, data, nxt = self._checked_call(action)

        def setup(e: Entry) -> None:
            e.action, e.fn, e.data, e.next = a, a.fn, data, nxt

        return self.add(key, priority, setup)

    def add_exact_entry(self, values: tuple[int, ...], action: ActionCall,
                        ttl_ms: int | None = None) -> int:
        """``add_entry`` for a direct table whose key fields are all exact, the key
        given as the tuple of its values: no MatchKeyParam per field, and the tuple
        is the lookup key itself (the caller may keep it, sharing the memory).
        ``ttl_ms``: ``set_ttl`` at once (a flow entry's write is then one call)."""
        if self.immutable:
            raise RuntimeApiError(
                MatchError.IMMUTABLE_TABLE_ENTRIES, f"table {self.name!r} has const entries"
            )
        if self.profile is not None:
            raise RuntimeApiError(MatchError.WRONG_TABLE_TYPE, f"table {self.name!r} is indirect")
        if ttl_ms is not None and not self.support_timeout:
            raise RuntimeApiError(MatchError.AGEING_DISABLED, f"table {self.name!r}")
        if self.mu.exact_tops is None:  # e.g. a field with a JSON mask: the general path
            handle = self.add_entry(self._exact_params(values), action, -1)
        else:
            form = self.mu.exact_form(values)
            a, data, nxt = self._checked_call(action)

            def setup(e: Entry) -> None:
                e.action, e.fn, e.data, e.next = a, a.fn, data, nxt

            handle = self._add(form, None, -1, setup)
        if ttl_ms is not None:
            try:
                self.set_ttl(handle, ttl_ms)
            except RuntimeApiError:
                self.delete_entry(handle)
                raise
        return handle

    def find_exact_entry(self, values: tuple[int, ...]) -> int | None:
        """The handle of the entry with this all-exact key (``add_exact_entry``), or None."""
        e = self._exact_entry(values)
        return None if e is None else e.handle

    def _exact_entry(self, values: tuple[int, ...]) -> Entry | None:
        if self.mu.exact_tops is None or self.match_type != "exact":
            handle = self.find_entry(self._exact_params(values), -1)
            return None if handle is None else self.entries[handle]
        return self.mu.exact.get(self.mu.exact_form(values))  # mu.find's exact case

    def modify_exact_entry(self, values: tuple[int, ...], action: ActionCall,
                           ttl_ms: int | None = None) -> int | None:
        """``modify_entry`` (and ``set_ttl`` unless ``ttl_ms`` is None) of the entry
        with this all-exact key: its handle, or None, nothing changed, when there is
        none. One call where a P4Runtime MODIFY would take three."""
        if self.profile is not None:
            raise RuntimeApiError(MatchError.WRONG_TABLE_TYPE, f"table {self.name!r} is indirect")
        if ttl_ms is not None and not self.support_timeout:
            raise RuntimeApiError(MatchError.AGEING_DISABLED, f"table {self.name!r}")
        e = self._exact_entry(values)
        if e is None:
            return None
        self._rewrite(e, action)
        if ttl_ms is not None:
            self.set_ttl(e.handle, ttl_ms)
        return e.handle

    def delete_exact_entry(self, values: tuple[int, ...]) -> int | None:
        """``delete_entry`` of the entry with this all-exact key: its handle, or
        None, nothing changed, when there is none."""
        handle = self.find_exact_entry(values)
        if handle is not None:
            self.delete_entry(handle)
        return handle

    def _exact_params(self, values: tuple[int, ...]) -> list[MatchKeyParam]:
        if type(values) is not tuple or not all(k.kind is MatchKind.EXACT for k in self.key):
            raise self.mu.bad_key(f"not an all-exact key: {values!r}")
        return [MatchKeyParam(MatchKind.EXACT, v) for v in values]

    def find_entry(self, key: list[MatchKeyParam], priority: int) -> int | None:
        """The handle of the entry with this key and priority, or None."""
        key = self.mu.normalize(key)
        if self.match_type not in ("ternary", "range"):
            priority = -1
        e = self.mu.find(self.mu.lookup_form(key, priority))
        return None if e is None else e.handle

    def add_indirect(self, key: list[MatchKeyParam], member: int | None, group: int | None,
                     priority: int) -> int:  # fmt: skip
        prof = self._indirect(group is not None)
        if member is not None:
            prof.check_member(member)
        else:
            if not prof.check_group(group):  # type: ignore[arg-type]
                raise RuntimeApiError(MatchError.EMPTY_GRP, f"group {group} is empty")

        def setup(e: Entry) -> None:
            e.member, e.group = member, group

        h = self.add(key, priority, setup)
        prof.ref("m" if member is not None else "g", member if member is not None else group, 1)  # type: ignore[arg-type]
        return h

    def _indirect(self, with_group: bool) -> ActionProfile:
        if self.profile is None:
            raise RuntimeApiError(
                MatchError.WRONG_TABLE_TYPE, f"table {self.name!r} is not indirect"
            )
        if with_group and self.type != "indirect_ws":
            raise RuntimeApiError(
                MatchError.WRONG_TABLE_TYPE, f"table {self.name!r} has no selector"
            )
        return self.profile

    def modify_indirect(self, handle: int, member: int | None, group: int | None) -> None:
        prof = self._indirect(group is not None)
        e = self.entry(handle)
        if member is not None:
            prof.check_member(member)
        elif not prof.check_group(group):  # type: ignore[arg-type]
            raise RuntimeApiError(MatchError.EMPTY_GRP, f"group {group} is empty")
        self._unref(e)
        e.member, e.group = member, group
        prof.ref("m" if member is not None else "g", member if member is not None else group, 1)  # type: ignore[arg-type]

    def _unref(self, e: Entry) -> None:
        if self.profile is None:
            return
        if e.member is not None:
            self.profile.ref("m", e.member, -1)
        elif e.group is not None:
            self.profile.ref("g", e.group, -1)

    def modify_entry(self, handle: int, action: ActionCall) -> None:
        if self.profile is not None:
            raise RuntimeApiError(MatchError.WRONG_TABLE_TYPE, f"table {self.name!r} is indirect")
        self._rewrite(self.entry(handle), action)

    def _rewrite(self, e: Entry, action: ActionCall) -> None:
        if e.is_const:
            raise RuntimeApiError(MatchError.IMMUTABLE_TABLE_ENTRIES, f"table {self.name!r}")
        a, data, nxt = self._checked_call(action)
        e.action, e.fn, e.data, e.next = a, a.fn, data, nxt

    def delete_entry(self, handle: int) -> None:
        e = self.entry(handle)
        if e.is_const:
            raise RuntimeApiError(MatchError.IMMUTABLE_TABLE_ENTRIES, f"table {self.name!r}")
        self.mu.remove(e)
        self._unref(e)
        del self.entries[handle]

    def clear(self, reset_default: bool) -> None:
        for h in [h for h, e in self.entries.items() if not e.is_const]:
            self.delete_entry(h)
        if reset_default:
            self.reset_default()

    def set_default(self, action: ActionCall) -> None:
        if self.profile is not None:
            raise RuntimeApiError(MatchError.WRONG_TABLE_TYPE, f"table {self.name!r} is indirect")
        if self.const_default_entry:
            raise RuntimeApiError(
                MatchError.DEFAULT_ENTRY_IS_CONST, f"table {self.name!r} has a const default entry"
            )
        a = self.check_action(action)
        if self.const_default_action is not None and a is not self.const_default_action:
            raise RuntimeApiError(
                MatchError.DEFAULT_ACTION_IS_CONST,
                f"table {self.name!r} default action must stay {self.const_default_action.name!r}",
            )
        e = Entry()
        e.action, e.fn, e.data = a, a.fn, self._shared(tuple(action.args))
        e.next = self.next_for(a, False)
        self.default = e

    def set_default_indirect(self, member: int | None, group: int | None) -> None:
        prof = self._indirect(group is not None)
        if member is not None:
            prof.check_member(member)
        else:
            prof.check_group(group)  # type: ignore[arg-type]
        self._unref_default()
        self.default_member, self.default_group = member, group
        prof.ref("m" if member is not None else "g", member if member is not None else group, 1)  # type: ignore[arg-type]

    def _unref_default(self) -> None:
        if self.profile is None:
            return
        if self.default_member is not None:
            self.profile.ref("m", self.default_member, -1)
        if self.default_group is not None:
            self.profile.ref("g", self.default_group, -1)

    def reset_default(self) -> None:
        self._unref_default()
        self.default_member = self.default_group = None
        self.default = self.default_default

    # --- control plane: reading back ----------------------------------------------------------
    def to_table_entry(self, e: Entry) -> TableEntry:
        action = None
        if self.profile is None and e.action is not None:
            action = ActionCall(e.action.name, list(e.data))
        since = int((self.clock() - e.last_hit) * 1000)
        return TableEntry(
            handle=e.handle,
            match_key=self.mu.match_key(e),
            priority=e.priority,
            action=action,
            member=e.member,
            group=e.group,
            timeout_ms=e.ttl_ms,
            time_since_last_hit_ms=since,
        )

    def exact_entries(self) -> list[tuple[int, tuple[int, ...], str | None, tuple, int | None]]:
        """(handle, key values, action name, action data, TTL ms) of every entry of a
        table whose key fields are all exact: what a read of a million flows needs,
        without a TableEntry and a MatchKeyParam per field for each."""
        if not self.key or any(k.kind is not MatchKind.EXACT for k in self.key):
            raise self.mu.bad_key("not a table whose key fields are all exact")
        out = []
        plain = self.mu.exact_tops is not None
        one = len(self.key) == 1
        for e in self.entries.values():
            if not plain:
                values = tuple([p.value for p in self.mu.match_key(e)])
            else:
                values = (e.form,) if one else e.form
            action = e.action
            out.append((e.handle, values, None if action is None else action.name, e.data,
                        e.ttl_ms))
        return out

    def default_entry(self) -> TableEntry:
        if self.profile is not None:
            if self.default_member is None and self.default_group is None:
                raise RuntimeApiError(MatchError.NO_DEFAULT_ENTRY, f"table {self.name!r}")
            return TableEntry(-1, [], -1, None, self.default_member, self.default_group)
        d = self.default
        if d.action is None:
            raise RuntimeApiError(MatchError.NO_DEFAULT_ENTRY, f"table {self.name!r} has none")
        return TableEntry(-1, [], -1, ActionCall(d.action.name, list(d.data)))

    def entry_from_key(self, key: list[MatchKeyParam], priority: int) -> TableEntry:
        key = self.mu.normalize(key)
        if self.match_type not in ("ternary", "range"):
            priority = -1
        e = self.mu.find(self.mu.lookup_form(key, priority))
        if e is None:
            raise RuntimeApiError(
                MatchError.NO_SUCH_ENTRY, f"table {self.name!r}: no entry for key"
            )
        return self.to_table_entry(e)

    # --- ageing --------------------------------------------------------------------------------
    def set_ttl(self, handle: int, ttl_ms: int) -> None:
        if not self.support_timeout:
            raise RuntimeApiError(MatchError.AGEING_DISABLED, f"table {self.name!r}")
        e = self.entry(handle)
        if not isinstance(ttl_ms, int) or ttl_ms < 0:
            raise RuntimeApiError(MatchError.ERROR, f"bad ttl {ttl_ms!r}")
        e.ttl_ms = ttl_ms
        e.last_hit = self.clock()
        self._idle.discard(handle)
        if ttl_ms:
            self._watch(e, e.last_hit + ttl_ms / 1000)

    def _watch(self, e: Entry, deadline: float) -> None:
        number = math.ceil(deadline / AGEING_SLOT_S)
        slot = self._slots.get(number)
        if slot is None:
            slot = self._slots[number] = (number, [])
            heapq.heappush(self._slot_heap, number)
        e.deadline = slot[0]  # the slot's own int: shared by every entry in it
        slot[1].append(e.handle)

    def expired(self, now: float) -> list[int]:
        """Handles whose TTL passed without a hit (MatchUnit::sweep_entries).

        Scanning every entry each second would stall a million-flow table, so
        entries wait in deadline slots (a TTL is noticed up to AGEING_SLOT_S late,
        well inside the sweep period); an entry of a slot that was hit since
        goes back with its new deadline. Each entry is touched about once per
        TTL, plus once per sweep while it is idle (until it is deleted)."""
        heap = self._slot_heap
        while heap and heap[0] * AGEING_SLOT_S <= now:
            number, handles = self._slots.pop(heapq.heappop(heap))
            for h in handles:
                e = self.entries.get(h)
                if e is None or not e.ttl_ms or e.deadline != number:
                    continue  # deleted, ageing turned off, or re-queued since
                due = e.last_hit + e.ttl_ms / 1000
                if due > now:
                    self._watch(e, due)
                else:
                    self._idle.add(h)
        out = []
        for h in sorted(self._idle):
            e = self.entries.get(h)
            if e is None or not e.ttl_ms:
                self._idle.discard(h)
                continue
            due = e.last_hit + e.ttl_ms / 1000
            if due > now:  # hit again
                self._idle.discard(h)
                self._watch(e, due)
            else:
                out.append(h)
        return out
