"""A forwarding pipeline: the P4Info, the BMv2 JSON running in the data plane, and
the P4Runtime state that belongs to that pair (entries, members, groups, PRE,
digest configs). A new SetForwardingPipelineConfig builds a new one.

Loading reads the device config (device_config: the BMv2 JSON, as
simple_switch_grpc takes it), runs it in a new data plane and compares it with
the P4Info (config_agreement: p4c gives tables, actions, counters, meters and
action profiles equal names in both, match fields in the order of the JSON
table ``key``, action parameters in the order of ``runtime_data``; what p4c
itself makes differ is accepted, as PI and BMv2 accept it). Anything that does
not load is INVALID_ARGUMENT naming the element.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from p4switch.p4runtime.action_profiles import ActionProfileState
from p4switch.p4runtime.arbitration import StreamMessage
from p4switch.p4runtime.config_agreement import ConfigAgreement, check_agreement
from p4switch.p4runtime.counters_meters import CountersAndMeters
from p4switch.p4runtime.device_config import parse_device_config
from p4switch.p4runtime.digests import DigestLists
from p4switch.p4runtime.errors import invalid
from p4switch.p4runtime.p4info_index import P4InfoIndex
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.p4runtime.replication import ReplicationEngine
from p4switch.p4runtime.table_entries import TableEntries
from p4switch.runtime_api import SwitchRuntime

log = logging.getLogger(__name__)

Send = Callable[[StreamMessage], None]


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


class Pipeline:
    """One loaded P4Info + BMv2 JSON and its P4Runtime state."""

    def __init__(self, config: p4runtime_pb2.ForwardingPipelineConfig, index: P4InfoIndex,
                 runtime: SwitchRuntime, send: Send, agreement: ConfigAgreement) -> None:
        self.config = config
        self.index = index
        self.runtime = runtime
        self.agreement = agreement
        self.action_profiles = {
            pid: ActionProfileState(info, index, runtime)
            for pid, info in index.action_profiles.items()
        }
        self.tables = TableEntries(index, runtime, self.action_profiles, self.agreement)
        self.resources = CountersAndMeters(index, runtime, self.tables, self.agreement)
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
        agreement = check_agreement(index, runtime)
        saved = p4runtime_pb2.ForwardingPipelineConfig()
        saved.CopyFrom(config)
        return Pipeline(saved, index, runtime, send, agreement)
    except BaseException:
        runtime.close()
        raise
