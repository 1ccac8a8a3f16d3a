"""Match keys: P4Runtime ``FieldMatch`` lists <-> data-plane keys, with PI's checks.

A key has two forms here. The data plane takes a list of ``MatchKeyParam`` in the
order of the JSON table's ``key`` (= the P4Info match field order). The server's
own entry store indexes entries by a hashable ``EntryKey``: one item per match
field plus the P4Runtime priority, built so that the key a client sends and the
key read back from the data plane compare equal (omitted "don't care" fields
take the values the data plane reports for them).
"""

from __future__ import annotations

from typing import Any

from p4switch.p4runtime.bytestrings import to_bytes, to_int
from p4switch.p4runtime.errors import invalid
from p4switch.p4runtime.p4info_index import MatchFieldInfo, TableInfo
from p4switch.runtime_api import MatchKeyParam, MatchKind

# (per-field items, P4Runtime priority); exact fields are plain ints, the other
# kinds (value, mask | prefix_len | high) tuples.
EntryKey = tuple[tuple[Any, ...], int]

# BMv2 orders ternary entries by an int where smaller wins; P4Runtime by a
# positive int32 where larger wins. PI (targets/bmv2/pi_tables_imp.cpp,
# PriorityInverter) pivots on INT_MAX; the data plane here mirrors BMv2.
MAX_PRIORITY = 2**31 - 1


def engine_priority(priority: int, needs_priority: bool) -> int:
    return MAX_PRIORITY - priority if needs_priority else -1


def p4runtime_priority(engine_value: int) -> int:
    return 0 if engine_value < 0 else MAX_PRIORITY - engine_value


def _field_label(table: TableInfo, info: MatchFieldInfo) -> str:
    return f"table '{table.name}' match field {info.id} ('{info.name}', {info.bitwidth} bits)"


def parse_match(table: TableInfo, entry: Any) -> tuple[EntryKey, list[MatchKeyParam]]:
    """Validate ``entry.match`` / ``entry.priority`` of a (non-default) TableEntry.

    Follows PI's ``construct_match_key``: unknown or repeated field ids, missing
    exact fields, wrong match kinds, bad widths, "don't care" written explicitly,
    LPM values with bits past the prefix, ternary values outside their mask, and
    priorities that do not fit the table are all INVALID_ARGUMENT.
    """
    values = _exact_values(table, entry)
    if values is not None:
        exact = MatchKind.EXACT
        return (values, 0), [MatchKeyParam(exact, v) for v in values]
    return _parse_any_match(table, entry)


def parse_key(table: TableInfo, entry: Any) -> EntryKey:
    """The EntryKey of ``entry``, checked as :func:`parse_match` checks it (MODIFY
    and DELETE find entries by key and need no data-plane key)."""
    values = _exact_values(table, entry)
    if values is not None:
        return values, 0
    return _parse_any_match(table, entry)[0]


def _exact_values(table: TableInfo, entry: Any) -> tuple[int, ...] | None:
    """The field values of a key of an all-exact table that gives each field once,
    in range, with no priority: what the controller writes by the million. None
    for anything else, which ``_parse_any_match`` then checks (and explains)."""
    widths = table.exact_widths
    match = entry.match
    if widths is None or len(match) != len(widths) or entry.priority:
        return None
    values: list[Any] = [None] * len(widths)
    positions = table.field_positions
    for fm in match:
        position = positions.get(fm.field_id)
        if (position is None or values[position] is not None
                or fm.WhichOneof("field_match_type") != "exact"):
            return None
        value = int.from_bytes(fm.exact.value, "big")
        if value >> widths[position]:
            return None
        values[position] = value
    return tuple(values)


def _parse_any_match(table: TableInfo, entry: Any) -> tuple[EntryKey, list[MatchKeyParam]]:
    fields = table.match_fields
    by_position: list[Any] = [None] * len(fields)
    positions = table.field_positions
    for fm in entry.match:
        position = positions.get(fm.field_id)
        if position is None:
            raise invalid(f"table '{table.name}': unknown match field id {fm.field_id}")
        if by_position[position] is not None:
            raise invalid(f"table '{table.name}': match field id {fm.field_id} "
                          "appears twice in the match key")
        by_position[position] = fm
    items: list[Any] = []
    params: list[MatchKeyParam] = []
    for info, fm in zip(fields, by_position, strict=True):
        if fm is None:
            item, param = _dont_care(table, info)
        elif info.kind is MatchKind.EXACT and fm.WhichOneof("field_match_type") == "exact":
            # the common case, inline: an exact value that fits its field
            value = int.from_bytes(fm.exact.value, "big")
            if value >> info.bitwidth:
                raise invalid(f"{_field_label(table, info)}: value 0x{fm.exact.value.hex()} "
                              f"does not fit in {info.bitwidth} bits")
            item, param = value, MatchKeyParam(MatchKind.EXACT, value)
        else:
            item, param = _parse_field(table, info, fm)
        items.append(item)
        params.append(param)
    priority = entry.priority
    if table.needs_priority:
        if priority <= 0:
            raise invalid(f"table '{table.name}' has ternary, range or optional fields: "
                          f"priority must be a positive int32, got {priority}")
    elif priority != 0:
        raise invalid(f"table '{table.name}' has no ternary, range or optional field: "
                      f"priority must be 0, got {priority}")
    return (tuple(items), priority), params


def _dont_care(table: TableInfo, info: MatchFieldInfo) -> tuple[Any, MatchKeyParam]:
    kind = info.kind
    if kind is MatchKind.LPM:
        return (0, 0), MatchKeyParam(kind, 0, prefix_len=0)
    if kind is MatchKind.TERNARY or kind is MatchKind.OPTIONAL:
        return (0, 0), MatchKeyParam(kind, 0, mask=0)
    if kind is MatchKind.RANGE:
        high = (1 << info.bitwidth) - 1
        return (0, high), MatchKeyParam(kind, 0, high=high)
    raise invalid(f"{_field_label(table, info)}: exact field missing from the match key")


def _parse_field(table: TableInfo, info: MatchFieldInfo, fm: Any) -> tuple[Any, MatchKeyParam]:
    kind = info.kind
    width = info.bitwidth
    which = fm.WhichOneof("field_match_type")
    if kind is MatchKind.EXACT:
        if which != "exact":
            raise _wrong_kind(table, info, which)
        value = to_int(fm.exact.value, width, _field_label(table, info))
        return value, MatchKeyParam(kind, value)
    if kind is MatchKind.LPM:
        if which != "lpm":
            raise _wrong_kind(table, info, which)
        label = _field_label(table, info)
        value = to_int(fm.lpm.value, width, label)
        plen = fm.lpm.prefix_len
        if plen < 0 or plen > width:
            raise invalid(f"{label}: prefix length {plen} is not in [1, {width}]")
        if plen == 0:
            raise invalid(f"{label}: a prefix length of 0 is 'don't care': omit the field")
        if value & ((1 << (width - plen)) - 1):
            raise invalid(f"{label}: value 0x{fm.lpm.value.hex()} has bits set past "
                          f"the /{plen} prefix")
        return (value, plen), MatchKeyParam(kind, value, prefix_len=plen)
    if kind is MatchKind.TERNARY:
        if which != "ternary":
            raise _wrong_kind(table, info, which)
        label = _field_label(table, info)
        value = to_int(fm.ternary.value, width, label)
        mask = to_int(fm.ternary.mask, width, label + " mask")
        if mask == 0:
            raise invalid(f"{label}: a ternary mask of 0 is 'don't care': omit the field")
        if value & ~mask:
            raise invalid(f"{label}: value 0x{fm.ternary.value.hex()} has bits outside "
                          f"mask 0x{fm.ternary.mask.hex()}")
        return (value, mask), MatchKeyParam(kind, value, mask=mask)
    if kind is MatchKind.RANGE:
        if which != "range":
            raise _wrong_kind(table, info, which)
        label = _field_label(table, info)
        low = to_int(fm.range.low, width, label + " low")
        high = to_int(fm.range.high, width, label + " high")
        if low == 0 and high == (1 << width) - 1:
            raise invalid(f"{label}: the full range is 'don't care': omit the field")
        if low > high:
            raise invalid(f"{label}: range low {low} is above high {high}")
        return (low, high), MatchKeyParam(kind, low, high=high)
    # optional
    if which != "optional":
        raise _wrong_kind(table, info, which)
    value = to_int(fm.optional.value, width, _field_label(table, info))
    mask = (1 << width) - 1
    return (value, mask), MatchKeyParam(kind, value, mask=mask)


def _wrong_kind(table: TableInfo, info: MatchFieldInfo, which: str | None):
    return invalid(f"{_field_label(table, info)} is a {info.kind.value} match, "
                   f"but the request gives {which or 'no value'}")


def key_from_engine(table: TableInfo, params: list[MatchKeyParam], priority: int) -> EntryKey:
    """The EntryKey of an entry the data plane reports (``priority`` in P4Runtime terms)."""
    items: list[Any] = []
    for info, param in zip(table.match_fields, params, strict=True):
        kind = info.kind
        if kind is MatchKind.EXACT:
            items.append(param.value)
        elif kind is MatchKind.LPM:
            items.append((param.value, param.prefix_len or 0))
        elif kind is MatchKind.RANGE:
            items.append((param.value, param.high))
        else:
            items.append((param.value, param.mask or 0))
    return tuple(items), priority


def fill_match(table: TableInfo, key: EntryKey, entry: Any) -> None:
    """Add the ``match`` fields of TableEntry ``entry`` for ``key``, omitting "don't
    care" fields (the priority is the caller's)."""
    add = entry.match.add
    for info, item in zip(table.match_fields, key[0], strict=True):
        kind = info.kind
        if kind is MatchKind.EXACT:
            fm = add()
            fm.field_id = info.id
            fm.exact.value = to_bytes(item)
        elif kind is MatchKind.LPM:
            if item[1]:
                fm = add()
                fm.field_id = info.id
                fm.lpm.value = to_bytes(item[0])
                fm.lpm.prefix_len = item[1]
        elif kind is MatchKind.TERNARY:
            if item[1]:
                fm = add()
                fm.field_id = info.id
                fm.ternary.value = to_bytes(item[0])
                fm.ternary.mask = to_bytes(item[1])
        elif kind is MatchKind.RANGE:
            if item != (0, (1 << info.bitwidth) - 1):
                fm = add()
                fm.field_id = info.id
                fm.range.low = to_bytes(item[0])
                fm.range.high = to_bytes(item[1])
        elif item[1]:  # optional
            fm = add()
            fm.field_id = info.id
            fm.optional.value = to_bytes(item[0])
