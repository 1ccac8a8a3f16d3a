"""A forwarding pipeline: the P4Info, the BMv2 JSON running in the data plane, and
the P4Runtime state that belongs to that pair (entries, members, groups, PRE,
digest configs). A new SetForwardingPipelineConfig builds a new one.

Loading checks the device config (BMv2 JSON, as simple_switch_grpc takes it)
and its agreement with the P4Info: p4c gives tables, actions, counters, meters
and action profiles equal names in both, match fields in the order of the
JSON table ``key``, and action parameters in the order of ``runtime_data``.
Anything that does not load is INVALID_ARGUMENT naming the element.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from p4switch.p4runtime.action_profiles import ActionProfileState
from p4switch.p4runtime.arbitration import StreamMessage
from p4switch.p4runtime.counters_meters import CountersAndMeters
from p4switch.p4runtime.digests import DigestLists
from p4switch.p4runtime.errors import invalid
from p4switch.p4runtime.p4info_index import P4InfoIndex
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.p4runtime.replication import ReplicationEngine
from p4switch.p4runtime.table_entries import TableEntries
from p4switch.runtime_api import MatchKind, RuntimeApiError, SwitchRuntime

log = logging.getLogger(__name__)

Send = Callable[[StreamMessage], None]

# P4Info match kinds and the JSON match types the data plane may report for them
# (p4c writes "optional" as "ternary" for older BMv2 releases).
_COMPATIBLE_KINDS = {
    MatchKind.EXACT: {MatchKind.EXACT, MatchKind.VALID},
    MatchKind.LPM: {MatchKind.LPM},
    MatchKind.TERNARY: {MatchKind.TERNARY},
    MatchKind.RANGE: {MatchKind.RANGE},
    MatchKind.OPTIONAL: {MatchKind.OPTIONAL, MatchKind.TERNARY},
}


def parse_device_config(device_config: bytes) -> dict:
    """The BMv2 JSON of a ``p4_device_config``."""
    if not device_config:
        raise invalid("p4_device_config is empty; it must hold the BMv2 JSON of the program")
    try:
        program = json.loads(device_config)
    except (UnicodeDecodeError, ValueError) as e:
        raise invalid(f"p4_device_config is not BMv2 JSON: {e}") from None
    if not isinstance(program, dict):
        raise invalid("p4_device_config is JSON but not a BMv2 program (not an object)")
    return program


def load_runtime(program: dict, cpu_port: int | None) -> SwitchRuntime:
    """Run ``program`` in a new data-plane instance."""
    from p4switch.engine import load_switch

    try:
        return load_switch(program, cpu_port)
    except ValueError as e:
        raise invalid(f"p4_device_config: {e}") from None
    except Exception as e:  # a hostile JSON must never take the server down
        log.exception("the data plane failed to load a p4_device_config")
        raise invalid(f"p4_device_config could not be loaded: {type(e).__name__}: {e}") from None


def check_agreement(index: P4InfoIndex, runtime: SwitchRuntime) -> None:
    """Check that the P4Info describes the program the data plane loaded."""
    names = set(runtime.table_names())
    for table in index.tables.values():
        if table.name not in names:
            raise invalid(f"P4Info table '{table.name}' is not in the device config")
        dp = runtime.table_info(table.name)
        if len(dp.key) != len(table.match_fields):
            raise invalid(f"P4Info table '{table.name}' has {len(table.match_fields)} match "
                          f"fields, the device config {len(dp.key)}")
        for mf, (dp_name, dp_kind, dp_width) in zip(table.match_fields, dp.key, strict=True):
            if dp_width != mf.bitwidth or dp_kind not in _COMPATIBLE_KINDS[mf.kind]:
                raise invalid(
                    f"P4Info table '{table.name}' match field '{mf.name}' "
                    f"({mf.kind.value}, {mf.bitwidth} bits) does not match the device config's "
                    f"'{dp_name}' ({dp_kind.value}, {dp_width} bits)")
        dp_actions = set(dp.actions)
        for action_id in table.action_scopes:
            action = index.actions[action_id]
            if action.name not in dp_actions:
                raise invalid(f"P4Info table '{table.name}' action '{action.name}' is not an "
                              "action of that table in the device config")
        if bool(table.action_profile_id) != dp.is_indirect:
            raise invalid(f"P4Info table '{table.name}' and the device config disagree on "
                          "whether it uses an action profile")
    checks = [
        (index.counters.values(), runtime.counter_size, "counter"),
        (index.meters.values(), runtime.meter_size, "meter"),
    ]
    for infos, size_of, kind in checks:
        for info in infos:
            try:
                size = size_of(info.name)
            except RuntimeApiError:
                raise invalid(f"P4Info {kind} '{info.name}' is not in the device config") from None
            if size != info.size:
                raise invalid(f"P4Info {kind} '{info.name}' has {info.size} cells, the device "
                              f"config {size}")


class Pipeline:
    """One loaded P4Info + BMv2 JSON and its P4Runtime state."""

    def __init__(self, config: p4runtime_pb2.ForwardingPipelineConfig, index: P4InfoIndex,
                 runtime: SwitchRuntime, send: Send) -> None:
        self.config = config
        self.index = index
        self.runtime = runtime
        self.action_profiles = {
            pid: ActionProfileState(info, index, runtime)
            for pid, info in index.action_profiles.items()
        }
        self.tables = TableEntries(index, runtime, self.action_profiles)
        self.resources = CountersAndMeters(index, runtime, self.tables)
        self.replication = ReplicationEngine(runtime)
        self.digests = DigestLists(index, send)

    def close(self) -> None:
        try:
            self.runtime.close()
        except Exception:
            log.exception("closing a data-plane instance failed")


def load_pipeline(config: p4runtime_pb2.ForwardingPipelineConfig, cpu_port: int | None,
                  send: Send) -> Pipeline:
    if not config.HasField("p4info"):
        raise invalid("the ForwardingPipelineConfig has no p4info")
    index = P4InfoIndex(config.p4info)
    program = parse_device_config(config.p4_device_config)
    runtime = load_runtime(program, cpu_port)
    try:
        check_agreement(index, runtime)
        saved = p4runtime_pb2.ForwardingPipelineConfig()
        saved.CopyFrom(config)
        return Pipeline(saved, index, runtime, send)
    except BaseException:
        runtime.close()
        raise
