"""One P4Runtime device: the switch's pipelines and the requests that act on them.

This is PI's DeviceMgr (proto/frontend/src/device_mgr.cpp) for the embedded
switch: SetForwardingPipelineConfig's actions, Write batches with one status
per update, Reads, PacketOut / DigestListAck from the stream, and the way data
plane events (digests, idle timeouts, frames to the CPU port) become stream
messages for the primary controllers.

Two pipelines may exist at once, as in BMv2: the one P4Runtime requests act on
and the one forwarding packets. They differ only between VERIFY_AND_SAVE and
COMMIT. Packets never wait for the control-plane lock; they use whichever data
plane is forwarding when they arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from p4switch.p4runtime.arbitration import Arbitration
from p4switch.p4runtime.errors import (
    P4RuntimeError,
    failed_precondition,
    invalid,
    not_found,
    unimplemented,
)
from p4switch.p4runtime.notification_loop import NotificationLoop
from p4switch.p4runtime.packet_io import build_packet_out_frame, parse_packet_in
from p4switch.p4runtime.pipeline import Pipeline, load_pipeline, load_runtime
from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2
from p4switch.p4runtime.read_responses import ReadResponses
from p4switch.runtime_api import Digest, SwitchRuntime

log = logging.getLogger(__name__)

SetAction = p4runtime_pb2.SetForwardingPipelineConfigRequest
GetType = p4runtime_pb2.GetForwardingPipelineConfigRequest
Update = p4runtime_pb2.Update

Transmit = Callable[[int, bytes], None]

ENTRIES_PER_NOTIFICATION = 1000


@dataclass
class PacketCounters:
    """Packets the switch did not forward, by reason (visible in logs and tests)."""

    no_pipeline: int = 0  # arrived while no program was loaded
    pipeline_errors: int = 0  # the data plane raised while processing them
    short_packet_in: int = 0  # sent to the CPU port, shorter than the packet_in header
    no_controller: int = 0  # PacketIns with no primary controller to receive them


class Device:
    def __init__(self, device_id: int, cpu_port: int | None) -> None:
        self.device_id = device_id
        self.cpu_port = cpu_port
        self.arbitration = Arbitration(device_id)
        self.counters = PacketCounters()
        self._lock = threading.RLock()
        self.pipeline: Pipeline | None = None
        self._forwarding: SwitchRuntime | None = None
        self._forwarding_pipeline: Pipeline | None = None
        self._startup_runtime: SwitchRuntime | None = None
        self._transmit: Transmit = _discard
        self._loop = NotificationLoop(self._run_deadlines)
        self._loop.start()

    # --- packets -----------------------------------------------------------------

    def set_transmit(self, transmit: Transmit) -> None:
        """Where frames leaving the pipeline go: ``transmit(egress_port, frame)``."""
        self._transmit = transmit

    def load_startup_program(self, program: dict) -> None:
        """Forward with a BMv2 JSON given on the command line (no P4Info yet), as
        simple_switch_grpc does: packets flow, P4Runtime needs a pipeline config."""
        runtime = load_runtime(program, self.cpu_port)
        with self._lock:
            self._startup_runtime = runtime
            self._forwarding = runtime

    def receive_packet(self, port: int, frame: bytes) -> None:
        runtime = self._forwarding
        if runtime is None:
            self.counters.no_pipeline += 1
            return
        try:
            outputs = runtime.process_packet(port, frame)
        except Exception:
            self.counters.pipeline_errors += 1
            log.exception("the data plane failed on a %d-byte packet from port %d",
                          len(frame), port)
            return
        for egress_port, out in outputs:
            self._transmit(egress_port, out)

    # --- SetForwardingPipelineConfig / GetForwardingPipelineConfig ------------------

    def set_pipeline(self, action: int, config: p4runtime_pb2.ForwardingPipelineConfig) -> None:
        with self._lock:
            if action == SetAction.COMMIT:
                self._commit_saved()
                return
            if action not in (SetAction.VERIFY, SetAction.VERIFY_AND_SAVE,
                              SetAction.VERIFY_AND_COMMIT, SetAction.RECONCILE_AND_COMMIT):
                raise invalid(f"SetForwardingPipelineConfig action {action} is not valid")
            if not config.HasField("p4info") and not config.p4_device_config:
                raise invalid("SetForwardingPipelineConfig without a config")
            if action == SetAction.RECONCILE_AND_COMMIT and self.pipeline is not None:
                self._reconcile(config)
                return
            pipeline = load_pipeline(config, self.cpu_port, self.arbitration.send_to_primaries)
            if action == SetAction.VERIFY:
                pipeline.close()
            elif action == SetAction.VERIFY_AND_SAVE:
                self._replace(pipeline, commit=False)
            else:
                self._replace(pipeline, commit=True)

    def _replace(self, pipeline: Pipeline, commit: bool) -> None:
        old = self.pipeline
        self.pipeline = pipeline
        if old is not None and old is not self._forwarding_pipeline:
            old.close()  # saved earlier, never committed
        if commit:
            self._make_forwarding(pipeline)
        self._loop.wake()

    def _make_forwarding(self, pipeline: Pipeline) -> None:
        old_pipeline, old_startup = self._forwarding_pipeline, self._startup_runtime
        self._attach_events(pipeline)
        self._forwarding_pipeline = pipeline
        self._forwarding = pipeline.runtime
        self._startup_runtime = None
        if old_pipeline is not None and old_pipeline is not pipeline:
            old_pipeline.close()
        if old_startup is not None:
            old_startup.close()

    def _commit_saved(self) -> None:
        if self.pipeline is None or self.pipeline is self._forwarding_pipeline:
            raise failed_precondition("COMMIT: no pipeline was saved with VERIFY_AND_SAVE")
        self._make_forwarding(self.pipeline)

    def _reconcile(self, config: p4runtime_pb2.ForwardingPipelineConfig) -> None:
        """RECONCILE_AND_COMMIT: the new program with the current forwarding state.

        Unlike PI, a state that does not fit the new program leaves everything as it
        was (the error names the first entity that failed).
        """
        state = self._forwarding_state(self.pipeline)
        pipeline = load_pipeline(config, self.cpu_port, self.arbitration.send_to_primaries)
        for update_type, entity in state:
            try:
                self._write_entity(pipeline, update_type, entity)
            except P4RuntimeError as e:
                if update_type == Update.INSERT and e.code == code_pb2.ALREADY_EXISTS:
                    try:
                        self._write_entity(pipeline, Update.MODIFY, entity)
                        continue
                    except P4RuntimeError as e2:
                        e = e2
                pipeline.close()
                raise invalid(f"RECONCILE_AND_COMMIT: the current state does not fit the new "
                              f"pipeline ({e}); nothing was changed") from None
        self._replace(pipeline, commit=True)

    def _forwarding_state(self, pipeline: Pipeline) -> list[tuple[int, Any]]:
        """What RECONCILE_AND_COMMIT carries over, in an order that replays cleanly."""
        state: list[tuple[int, Any]] = []
        found: list = []
        for profile in pipeline.action_profiles.values():
            profile.read_members(0, found)
        for profile in pipeline.action_profiles.values():
            profile.read_groups(0, found)
        state += [(Update.INSERT, e) for e in found]
        for table in pipeline.tables.tables.values():
            info = table.info
            if info.is_const:
                continue
            request = p4runtime_pb2.TableEntry(table_id=info.id)
            request.counter_data.SetInParent()
            request.meter_config.SetInParent()
            found = ReadResponses()
            pipeline.tables.read(request, found)
            state += [(Update.INSERT, e) for e in found]
            if table.default_modified:
                # its action and metadata only: direct resources of the default entry
                # are not carried over
                found = ReadResponses()
                pipeline.tables.read(
                    p4runtime_pb2.TableEntry(table_id=info.id, is_default_action=True), found)
                state += [(Update.MODIFY, e) for e in found]
        found = []
        pipeline.resources.read_counter(p4runtime_pb2.CounterEntry(), found)
        pipeline.resources.read_meter(p4runtime_pb2.MeterEntry(), found)
        state += [(Update.MODIFY, e) for e in found
                  if e.HasField("counter_entry") or e.meter_entry.HasField("config")]
        found = []
        for kind in ("multicast_group_entry", "clone_session_entry"):
            request = p4runtime_pb2.PacketReplicationEngineEntry()
            getattr(request, kind).SetInParent()
            pipeline.replication.read(request, found)
        state += [(Update.INSERT, e) for e in found]
        for entry in pipeline.digests.configured():
            state.append((Update.INSERT, p4runtime_pb2.Entity(digest_entry=entry)))
        return state

    def get_pipeline(self, response_type: int) -> p4runtime_pb2.ForwardingPipelineConfig:
        with self._lock:
            pipeline = self.pipeline
        if pipeline is None:
            raise failed_precondition("no forwarding pipeline config is set on this device")
        saved = pipeline.config
        out = p4runtime_pb2.ForwardingPipelineConfig()
        if response_type in (GetType.ALL, GetType.P4INFO_AND_COOKIE):
            out.p4info.CopyFrom(saved.p4info)
        if response_type in (GetType.ALL, GetType.DEVICE_CONFIG_AND_COOKIE):
            out.p4_device_config = saved.p4_device_config
        if response_type not in (GetType.ALL, GetType.COOKIE_ONLY, GetType.P4INFO_AND_COOKIE,
                                 GetType.DEVICE_CONFIG_AND_COOKIE):
            raise invalid(f"GetForwardingPipelineConfig response_type {response_type} is not "
                          "valid")
        if saved.HasField("cookie"):
            out.cookie.CopyFrom(saved.cookie)
        return out

    # --- Write / Read ----------------------------------------------------------------

    def _current(self) -> Pipeline:
        pipeline = self.pipeline
        if pipeline is None:
            raise failed_precondition("no forwarding pipeline config is set on this device")
        return pipeline

    def write(self, request: Any) -> list[P4RuntimeError | None]:
        """Apply a batch; one result per update (None: applied)."""
        if request.atomicity != p4runtime_pb2.WriteRequest.CONTINUE_ON_ERROR:
            raise unimplemented("only the CONTINUE_ON_ERROR atomicity is supported")
        results: list[P4RuntimeError | None] = []
        with self._lock:
            pipeline = self._current()
            write_entity = self._write_entity
            write_table_entry = pipeline.tables.write
            for update in request.updates:
                try:
                    entity = update.entity
                    # nearly every update: one call less than _write_entity (~5% of a
                    # 65,536-bucket MODIFY here)
                    if entity.WhichOneof("entity") == "table_entry":
                        write_table_entry(update.type, entity.table_entry)
                    else:
                        write_entity(pipeline, update.type, entity)
                    results.append(None)
                except P4RuntimeError as e:
                    results.append(e)
                except Exception as e:  # a server bug must cost one update, not the switch
                    log.exception("internal error on a Write update")
                    results.append(P4RuntimeError(code_pb2.INTERNAL,
                                                  f"internal error: {type(e).__name__}: {e}"))
        return results

    def _write_entity(self, pipeline: Pipeline, update_type: int, entity: Any) -> None:
        which = entity.WhichOneof("entity")
        if which == "table_entry":
            pipeline.tables.write(update_type, entity.table_entry)
        elif which == "action_profile_member":
            member = entity.action_profile_member
            self._profile(pipeline, member.action_profile_id).write_member(update_type, member)
        elif which == "action_profile_group":
            group = entity.action_profile_group
            self._profile(pipeline, group.action_profile_id).write_group(update_type, group)
        elif which == "counter_entry":
            pipeline.resources.write_counter(update_type, entity.counter_entry)
        elif which == "direct_counter_entry":
            pipeline.resources.write_direct_counter(update_type, entity.direct_counter_entry)
        elif which == "meter_entry":
            pipeline.resources.write_meter(update_type, entity.meter_entry)
        elif which == "direct_meter_entry":
            pipeline.resources.write_direct_meter(update_type, entity.direct_meter_entry)
        elif which == "packet_replication_engine_entry":
            pipeline.replication.write(update_type, entity.packet_replication_engine_entry)
        elif which == "digest_entry":
            pipeline.digests.write_config(update_type, entity.digest_entry)
            self._loop.wake()
        elif which is None:
            raise invalid("the update has no entity")
        else:
            # register_entry, value_set_entry, extern_entry: as on BMv2
            raise unimplemented(f"writing {which} is not supported")

    @staticmethod
    def _profile(pipeline: Pipeline, profile_id: int):
        profile = pipeline.action_profiles.get(profile_id)
        if profile is None:
            raise invalid(f"action profile id {profile_id} is not an action profile of the "
                          "loaded P4Info")
        return profile

    def read(self, entities: Any) -> ReadResponses:
        """The entities ``entities`` name."""
        found = ReadResponses()
        with self._lock:
            pipeline = self._current()
            for entity in entities:
                self._read_entity(pipeline, entity, found)
        return found

    def _read_entity(self, pipeline: Pipeline, entity: Any, found: ReadResponses) -> None:
        which = entity.WhichOneof("entity")
        if which == "table_entry":
            pipeline.tables.read(entity.table_entry, found)
        elif which in ("action_profile_member", "action_profile_group"):
            request = getattr(entity, which)
            if request.action_profile_id == 0:
                profiles = list(pipeline.action_profiles.values())
            else:
                profiles = [self._profile(pipeline, request.action_profile_id)]
            for profile in profiles:
                if which == "action_profile_member":
                    profile.read_members(request.member_id, found)
                else:
                    profile.read_groups(request.group_id, found)
        elif which == "counter_entry":
            pipeline.resources.read_counter(entity.counter_entry, found)
        elif which == "direct_counter_entry":
            pipeline.resources.read_direct_counter(entity.direct_counter_entry, found)
        elif which == "meter_entry":
            pipeline.resources.read_meter(entity.meter_entry, found)
        elif which == "direct_meter_entry":
            pipeline.resources.read_direct_meter(entity.direct_meter_entry, found)
        elif which == "packet_replication_engine_entry":
            pipeline.replication.read(entity.packet_replication_engine_entry, found)
        elif which == "digest_entry":
            pipeline.digests.read_config(entity.digest_entry, found)
        elif which is None:
            raise invalid("the read request has an empty entity")
        else:
            raise unimplemented(f"reading {which} is not supported")

    # --- stream requests -----------------------------------------------------------

    def packet_out(self, packet: p4runtime_pb2.PacketOut) -> None:
        pipeline = self._current()
        if self.cpu_port is None:
            raise failed_precondition("the switch was started without a CPU port "
                                      "(--cpu-port): PacketOut has nowhere to enter")
        frame = build_packet_out_frame(pipeline.index.packet_out, packet)
        self.receive_packet(self.cpu_port, frame)

    def digest_ack(self, ack: p4runtime_pb2.DigestListAck) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.digests.ack(ack)

    # --- data-plane events ---------------------------------------------------------

    def _attach_events(self, pipeline: Pipeline) -> None:
        post = self._loop.post
        runtime = pipeline.runtime
        offer, wake = pipeline.digests.offer, self._loop.wake

        def on_digest(digest: Digest) -> None:
            # Booked on the packet thread; the notification thread is woken
            # only to send a sealed list or to learn a new list's deadline.
            if pipeline is self.pipeline and offer(digest):
                wake()

        runtime.on_digest = on_digest
        runtime.on_idle_timeout = lambda table, handles: post(
            partial(self._on_idle_timeout, pipeline, table, list(handles)))
        runtime.on_packet_to_cpu = lambda frame: post(partial(self._on_cpu_frame, pipeline,
                                                              frame))

    def _on_idle_timeout(self, pipeline: Pipeline, table: str, handles: list[int]) -> None:
        with self._lock:
            if pipeline is not self.pipeline:
                return
            entries = pipeline.tables.timed_out_entries(table, handles)
        # Several messages when many entries age at once keep each one far below
        # the 4 MB a gRPC client accepts by default.
        for start in range(0, len(entries), ENTRIES_PER_NOTIFICATION):
            message = p4runtime_pb2.StreamMessageResponse()
            notification = message.idle_timeout_notification
            notification.table_entry.extend(entries[start:start + ENTRIES_PER_NOTIFICATION])
            notification.timestamp = time.time_ns()
            self.arbitration.send_to_primaries(message)

    def _on_cpu_frame(self, pipeline: Pipeline, frame: bytes) -> None:
        message = parse_packet_in(pipeline.index.packet_in, frame)
        if message is None:
            self.counters.short_packet_in += 1
        elif not self.arbitration.send_to_primaries(message):
            self.counters.no_controller += 1

    def _run_deadlines(self) -> int | None:
        pipeline = self.pipeline
        return pipeline.digests.run_deadlines() if pipeline is not None else None

    # --- lifetime -------------------------------------------------------------------

    def check_device_id(self, device_id: int) -> None:
        if device_id != self.device_id:
            raise not_found(f"device id {device_id} is unknown; this switch is device "
                            f"{self.device_id}")

    def close(self) -> None:
        self._loop.stop()
        with self._lock:
            seen = set()
            for pipeline in (self.pipeline, self._forwarding_pipeline):
                if pipeline is not None and id(pipeline) not in seen:
                    seen.add(id(pipeline))
                    pipeline.close()
            if self._startup_runtime is not None:
                self._startup_runtime.close()
            self.pipeline = self._forwarding_pipeline = None
            self._forwarding = self._startup_runtime = None


def _discard(port: int, frame: bytes) -> None:
    pass

