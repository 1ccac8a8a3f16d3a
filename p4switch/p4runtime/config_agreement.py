"""How far the P4Info describes the program the data plane loaded.

PI compares nothing when a pipeline is pushed: it reads the P4Info on its own
(proto/p4info/p4info_to_and_from_proto.cpp) and hands the BMv2 JSON to BMv2
(targets/bmv2, ``_pi_update_device_start``). A disagreement shows on the first
request that needs it, as a target error (BMv2's ``INVALID_TABLE_NAME``,
``BAD_MATCH_KEY``, ...), which PI answers with UNKNOWN.

p4c itself writes pairs that disagree, because it makes the P4Info from the
program before its mid-end and the JSON after it. Those pushes are accepted
here, as on BMv2, and the disagreement is kept to refuse what BMv2 refuses:

- a table in the P4Info that the JSON lacks: p4c removed it, e.g. a table
  applied only in a branch it proved dead. Writes to it fail as on BMv2; reads
  find nothing in it. A counter or meter the JSON lacks is taken the same way
  (p4c 1.2.4.9 keeps unused ones in the JSON, but PI accepts the pair). Nothing
  tells this apart from a P4Info of another program that shares no name with
  the JSON: PI and BMv2 accept that too, and so does this server; every write
  to it then fails, naming the cause.
- a match field whose P4Info bitwidth differs from the JSON's where p4c makes
  it so: a field with no bitwidth (``error``, to which the JSON gives 32 bits;
  an enum without an underlying type; a type translated to a string) or a
  ``@p4runtime_translation`` type (PI does not translate). PI hands BMv2 a key
  field in as many bytes as the P4Info bitwidth takes (targets/bmv2/
  pi_tables_imp.cpp, ``build_key``); when the JSON field takes another number
  of bytes, BMv2 refuses the key (``MatchKeyBuilder::match_params_sanity_check``),
  so no entry of that table can be written, only its default entry. When the
  bytes agree, values pass through, checked against the P4Info bitwidth.

The rest is refused at the push, on purpose, where PI accepts it: a match kind,
a match field count, any other bitwidth, an action set, an action profile use
or a counter / meter size that differs from the JSON's. p4c never writes these
(none of the 310 v1model programs of p4c's testdata that p4c 1.2.4.9 compiles
has one); they mean the P4Info belongs to another program (or to another version of this
one), and accepting it would make every write to the table an UNKNOWN target
error, or put keys in the data plane that it reads at other widths.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from p4switch.p4runtime.errors import invalid
from p4switch.p4runtime.p4info_index import MatchFieldInfo, P4InfoIndex, TableInfo
from p4switch.runtime_api import MatchKind, RuntimeApiError, SwitchRuntime

log = logging.getLogger(__name__)

# P4Info match kinds and the JSON match types the data plane may report for them
# (p4c writes "optional" as "ternary" for older BMv2 releases).
_COMPATIBLE_KINDS = {
    MatchKind.EXACT: {MatchKind.EXACT, MatchKind.VALID},
    MatchKind.LPM: {MatchKind.LPM},
    MatchKind.TERNARY: {MatchKind.TERNARY},
    MatchKind.RANGE: {MatchKind.RANGE},
    MatchKind.OPTIONAL: {MatchKind.OPTIONAL, MatchKind.TERNARY},
}

REMOVED_BY_P4C = ("the device config has none of this name (p4c leaves out of the BMv2 "
                  "JSON what the program never uses, e.g. a table only a dead branch applies; "
                  "otherwise the P4Info is another program's)")


@dataclass
class ConfigAgreement:
    """What the P4Info names and the device config lacks or holds otherwise."""

    missing_tables: set[int] = field(default_factory=set)
    missing_counters: set[int] = field(default_factory=set)
    missing_meters: set[int] = field(default_factory=set)
    # table id -> why BMv2 refuses every match key PI would hand it
    unwritable_keys: dict[int, str] = field(default_factory=dict)


def check_agreement(index: P4InfoIndex, runtime: SwitchRuntime) -> ConfigAgreement:
    """Compare the P4Info with the program the data plane loaded: what p4c makes
    differ is recorded (and logged), the rest is INVALID_ARGUMENT."""
    agreement = ConfigAgreement()
    names = set(runtime.table_names())
    for table in index.tables.values():
        if table.name not in names:
            log.warning("P4Info table '%s': %s", table.name, REMOVED_BY_P4C)
            agreement.missing_tables.add(table.id)
            continue
        refusal = _check_table(table, runtime, index)
        if refusal is not None:
            log.warning("P4Info table '%s': %s", table.name, refusal)
            agreement.unwritable_keys[table.id] = refusal
    checks = [
        (index.counters.values(), runtime.counter_size, "counter", agreement.missing_counters),
        (index.meters.values(), runtime.meter_size, "meter", agreement.missing_meters),
    ]
    for infos, size_of, kind, missing in checks:
        for info in infos:
            try:
                size = size_of(info.name)
            except RuntimeApiError:
                log.warning("P4Info %s '%s': %s", kind, info.name, REMOVED_BY_P4C)
                missing.add(info.id)
                continue
            if size != info.size:
                raise invalid(f"P4Info {kind} '{info.name}' has {info.size} cells, the device "
                              f"config {size}")
    return agreement


def _check_table(table: TableInfo, runtime: SwitchRuntime, index: P4InfoIndex) -> str | None:
    """Refuse a table the JSON describes otherwise; return why its keys cannot be
    written when p4c made a field's widths differ (None: they can)."""
    dp = runtime.table_info(table.name)
    if len(dp.key) != len(table.match_fields):
        raise invalid(f"P4Info table '{table.name}' has {len(table.match_fields)} match "
                      f"fields, the device config {len(dp.key)}")
    refusal = None
    for mf, (dp_name, dp_kind, dp_width) in zip(table.match_fields, dp.key, strict=True):
        if dp_kind not in _COMPATIBLE_KINDS[mf.kind] or (
                dp_width != mf.bitwidth and not _width_may_differ(mf, index)):
            raise invalid(
                f"P4Info table '{table.name}' match field '{mf.name}' "
                f"({mf.kind.value}, {mf.bitwidth} bits) does not match the device config's "
                f"'{dp_name}' ({dp_kind.value}, {dp_width} bits)")
        if refusal is None and _nbytes(dp_width) != _nbytes(mf.bitwidth):
            refusal = (f"match field '{mf.name}' has {mf.bitwidth} bits in the P4Info and "
                       f"{dp_width} in the device config: PI hands BMv2 a key of "
                       f"{_nbytes(mf.bitwidth)} bytes for it where BMv2 takes "
                       f"{_nbytes(dp_width)}, and BMv2 refuses the key; only the table's "
                       "default entry can be written")
    dp_actions = set(dp.actions)
    for action_id in table.action_scopes:
        action = index.actions[action_id]
        if action.name not in dp_actions:
            raise invalid(f"P4Info table '{table.name}' action '{action.name}' is not an "
                          "action of that table in the device config")
    if bool(table.action_profile_id) != dp.is_indirect:
        raise invalid(f"P4Info table '{table.name}' and the device config disagree on "
                      "whether it uses an action profile")
    return refusal


def _width_may_differ(mf: MatchFieldInfo, index: P4InfoIndex) -> bool:
    """Whether p4c gives this field another width in the P4Info than in the JSON:
    no bitwidth at all (error, enum, string translation), or a translated type."""
    if mf.bitwidth == 0:
        return True
    if not mf.type_name:
        return False
    new_types = index.p4info.type_info.new_types
    if mf.type_name not in new_types:
        return False
    return new_types[mf.type_name].WhichOneof("representation") == "translated_type"


def _nbytes(bits: int) -> int:
    return (bits + 7) // 8
