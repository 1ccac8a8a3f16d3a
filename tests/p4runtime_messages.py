"""Table entries as generated protobuf messages: the tests' independent reference.

The controller encodes and decodes entries with its codec
(controller/p4runtime_codec.py: per-table layouts, fast paths). The tests
check it, and read switches back, with this plain builder written apart
from it, so a mistake in the codec cannot hide behind the same mistake in
the check.
"""

from __future__ import annotations

from controller.p4_schema import DecodedEntry, MatchValue, P4Schema, SchemaError
from controller.p4runtime_proto import p4info_pb2, p4runtime_pb2

MT = p4info_pb2.MatchField


def _bytes(value: int, bitwidth: int, what: str) -> bytes:
    if value < 0 or value >= 1 << bitwidth:
        raise SchemaError(f"{what}: {value} does not fit in {bitwidth} bits")
    # P4Runtime's canonical form: no leading zero bytes, b"\0" for zero.
    return value.to_bytes((bitwidth + 7) // 8 or 1, "big").lstrip(b"\0") or b"\0"


def entry_message(
    schema: P4Schema, entry: DecodedEntry, idle_timeout_ns: int = 0, key_only: bool = False
) -> p4runtime_pb2.TableEntry:
    ts = schema.table(entry.table)
    if len(entry.key) != len(ts.fields):
        raise SchemaError(f"{ts.name}: {len(entry.key)} key values for {len(ts.fields)}")
    te = p4runtime_pb2.TableEntry(table_id=ts.id, priority=entry.priority)
    for f, value in zip(ts.fields, entry.key, strict=True):
        what = f"{ts.name}.{f.name}"
        if f.match_type == MT.EXACT:
            te.match.add(field_id=f.id).exact.value = _bytes(value, f.bitwidth, what)
        elif f.match_type == MT.LPM and value[1]:
            fm = te.match.add(field_id=f.id)
            fm.lpm.value = _bytes(value[0], f.bitwidth, what)
            fm.lpm.prefix_len = value[1]
        elif f.match_type == MT.TERNARY and value[1]:
            fm = te.match.add(field_id=f.id)
            fm.ternary.value = _bytes(value[0], f.bitwidth, what)
            fm.ternary.mask = _bytes(value[1], f.bitwidth, what)
    if not key_only:
        acs = schema.action(entry.action)
        if acs.id not in ts.action_ids:
            raise SchemaError(f"table {ts.name} has no action {acs.name}")
        if len(entry.params) != len(acs.params):
            raise SchemaError(f"{acs.name}: {len(entry.params)} params for {len(acs.params)}")
        te.action.action.action_id = acs.id
        for p, v in zip(acs.params, entry.params, strict=True):
            te.action.action.params.add(
                param_id=p.id, value=_bytes(v, p.bitwidth, f"{acs.name}.{p.name}"))
        te.idle_timeout_ns = idle_timeout_ns
    return te


def update_message(
    schema: P4Schema, kind: int, entry: DecodedEntry, idle_timeout_ns: int = 0
) -> p4runtime_pb2.Update:
    update = p4runtime_pb2.Update(type=kind)
    update.entity.table_entry.CopyFrom(entry_message(
        schema, entry, idle_timeout_ns, key_only=kind == p4runtime_pb2.Update.DELETE))
    return update


def entry_from_message(schema: P4Schema, te: p4runtime_pb2.TableEntry) -> DecodedEntry:
    ts = schema.table_by_id(te.table_id)
    by_id = {m.field_id: m for m in te.match}
    key: list[MatchValue] = []
    for f in ts.fields:
        m = by_id.get(f.id)
        if f.match_type == MT.EXACT:
            key.append(int.from_bytes(m.exact.value, "big") if m else 0)
        elif f.match_type == MT.LPM:
            key.append((int.from_bytes(m.lpm.value, "big"), m.lpm.prefix_len) if m else (0, 0))
        else:
            key.append((int.from_bytes(m.ternary.value, "big"),
                        int.from_bytes(m.ternary.mask, "big")) if m else (0, 0))
    if not te.HasField("action"):
        return DecodedEntry(ts.name, tuple(key), "", (), te.priority)
    acs = schema.action_by_id(te.action.action.action_id)
    values = {p.param_id: int.from_bytes(p.value, "big") for p in te.action.action.params}
    return DecodedEntry(ts.name, tuple(key), acs.name,
                        tuple(values.get(p.id, 0) for p in acs.params), te.priority)
