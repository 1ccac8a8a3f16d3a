"""The gRPC face of the P4Runtime server: request checks common to every RPC, error
statuses, and the StreamChannel plumbing (PI's pi_server.cpp).

Each RPC checks, in the specification's order, the device id (NOT_FOUND), that
the sender is the primary for writes (PERMISSION_DENIED), then hands the
request to the :class:`Device`. A StreamChannel gets an outbox queue: whatever
the switch sends to the controller (arbitration, PacketIn, digests, idle
timeouts, stream errors) is queued there and written by the RPC's own thread,
while a reader thread handles what the controller sends.

Requests arrive as bytes and are parsed here whole, with the compiled
protobuf runtime, before anything acts on them: a request protobuf cannot
parse is refused with INVALID_ARGUMENT and changes nothing.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
from collections.abc import Iterator

import grpc
from google.protobuf.message import DecodeError

from p4switch.p4runtime.arbitration import StreamConnection, election_id_of
from p4switch.p4runtime.device import Device
from p4switch.p4runtime.errors import (
    ERROR_SPACE,
    STATUS_DETAILS_KEY,
    P4RuntimeError,
    batch_status,
    invalid,
    permission_denied,
)
from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2, p4runtime_pb2_grpc

log = logging.getLogger(__name__)

P4RUNTIME_API_VERSION = "1.4.1"
MAX_OPEN_STREAMS = 20  # each open stream holds one gRPC worker thread
STREAM_OUTBOX_SIZE = 10000

_END = object()


class P4RuntimeService(p4runtime_pb2_grpc.P4RuntimeServicer):
    def __init__(self, device: Device) -> None:
        self.device = device
        self._streams_lock = threading.Lock()
        self._open_streams = 0
        self.dropped_stream_messages = 0

    # --- unary RPCs --------------------------------------------------------------

    def Write(self, data: bytes, context):  # noqa: N802 (gRPC method name)
        try:
            with _COLLECTOR_PAUSE:
                request = _parse(p4runtime_pb2.WriteRequest.FromString, data, "WriteRequest")
                self.device.check_device_id(request.device_id)
                self.device.arbitration.check_writer(request.role, election_id_of(request))
                results = self.device.write(request)
        except P4RuntimeError as e:
            context.abort(e.grpc_code(), e.message)
        status = batch_status(results)
        log.debug("Write: %d updates, %s", len(results),
                  status.message if status is not None else "all applied")
        if status is not None:
            context.set_trailing_metadata(((STATUS_DETAILS_KEY, status.SerializeToString()),))
            context.set_code(grpc.StatusCode.UNKNOWN)
            context.set_details(status.message)
        return p4runtime_pb2.WriteResponse()

    def Read(self, data: bytes, context):  # noqa: N802
        try:
            with _COLLECTOR_PAUSE:
                request = _parse(p4runtime_pb2.ReadRequest.FromString, data, "ReadRequest")
                self.device.check_device_id(request.device_id)
                responses = self.device.read(request.entities).response_messages()
        except P4RuntimeError as e:
            context.abort(e.grpc_code(), e.message)
        yield from responses

    def SetForwardingPipelineConfig(self, data: bytes, context):  # noqa: N802
        try:
            request = _parse(p4runtime_pb2.SetForwardingPipelineConfigRequest.FromString, data,
                             "SetForwardingPipelineConfigRequest")
            self.device.check_device_id(request.device_id)
            self.device.arbitration.check_writer(request.role, election_id_of(request))
            self.device.set_pipeline(request.action, request.config)
        except P4RuntimeError as e:
            log.warning("SetForwardingPipelineConfig refused: %s", e)
            context.abort(e.grpc_code(), e.message)
        log.info("SetForwardingPipelineConfig %s done",
                 p4runtime_pb2.SetForwardingPipelineConfigRequest.Action.Name(request.action))
        return p4runtime_pb2.SetForwardingPipelineConfigResponse()

    def GetForwardingPipelineConfig(self, data: bytes, context):  # noqa: N802
        try:
            request = _parse(p4runtime_pb2.GetForwardingPipelineConfigRequest.FromString, data,
                             "GetForwardingPipelineConfigRequest")
            self.device.check_device_id(request.device_id)
            config = self.device.get_pipeline(request.response_type)
        except P4RuntimeError as e:
            context.abort(e.grpc_code(), e.message)
        return p4runtime_pb2.GetForwardingPipelineConfigResponse(config=config)

    def Capabilities(self, data: bytes, context):  # noqa: N802
        return p4runtime_pb2.CapabilitiesResponse(p4runtime_api_version=P4RUNTIME_API_VERSION)

    # --- StreamChannel -------------------------------------------------------------

    def StreamChannel(self, request_iterator, context) -> Iterator:  # noqa: N802
        with self._streams_lock:
            if self._open_streams >= MAX_OPEN_STREAMS:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"too many open streams (max {MAX_OPEN_STREAMS})")
            self._open_streams += 1
        outbox: queue.Queue = queue.Queue(STREAM_OUTBOX_SIZE)
        conn = StreamConnection(lambda message: self._offer(outbox, message))
        context.add_callback(lambda: outbox.put(_END))
        reader = threading.Thread(target=self._read_stream, args=(request_iterator, conn, outbox),
                                  name="p4rt-stream-reader", daemon=True)
        reader.start()
        try:
            while True:
                item = outbox.get()
                if item is _END:
                    return
                if isinstance(item, P4RuntimeError):
                    context.abort(item.grpc_code(), item.message)
                yield item
        finally:
            self.device.arbitration.remove(conn)
            with self._streams_lock:
                self._open_streams -= 1

    def _offer(self, outbox: queue.Queue, message) -> None:
        try:
            outbox.put_nowait(message)
        except queue.Full:
            self.dropped_stream_messages += 1

    def _read_stream(self, requests, conn: StreamConnection, outbox: queue.Queue) -> None:
        try:
            for data in requests:
                try:
                    request = _parse(p4runtime_pb2.StreamMessageRequest.FromString, data,
                                     "StreamMessageRequest")
                except P4RuntimeError as e:
                    error = self._stream_error(e)
                    error.other.SetInParent()
                    conn.send(p4runtime_pb2.StreamMessageResponse(error=error))
                    continue
                self._handle_stream_request(conn, request)
        except P4RuntimeError as e:
            outbox.put(e)
        except grpc.RpcError:
            pass  # the client went away
        except Exception:
            log.exception("StreamChannel reader failed")
            outbox.put(P4RuntimeError(code_pb2.INTERNAL, "internal error in the stream reader"))
        finally:
            outbox.put(_END)

    def _handle_stream_request(self, conn: StreamConnection, request) -> None:
        which = request.WhichOneof("update")
        device = self.device
        if which == "arbitration":
            device.arbitration.update(conn, request.arbitration)
            return
        if which == "packet":
            if not conn.arbitrated:
                return  # as PI: nothing is accepted before arbitration
            try:
                if not device.arbitration.is_primary(conn):
                    raise permission_denied("PacketOut from a backup controller is ignored")
                device.packet_out(request.packet)
            except P4RuntimeError as e:
                error = self._stream_error(e)
                error.packet_out.packet_out.CopyFrom(request.packet)
                conn.send(p4runtime_pb2.StreamMessageResponse(error=error))
            return
        if which == "digest_ack":
            if conn.arbitrated and device.arbitration.is_primary(conn):
                device.digest_ack(request.digest_ack)
            return
        error = self._stream_error(P4RuntimeError(
            code_pb2.INVALID_ARGUMENT, f"unsupported stream message: {which or 'empty'}"))
        error.other.SetInParent()
        conn.send(p4runtime_pb2.StreamMessageResponse(error=error))

    def register(self, server: grpc.Server) -> None:
        """Serve this service on ``server``. Requests reach the methods as raw bytes, so
        that malformed ones get INVALID_ARGUMENT (gRPC's own deserializer would end
        the call with INTERNAL)."""
        method_kinds = {
            "Write": grpc.unary_unary_rpc_method_handler,
            "Read": grpc.unary_stream_rpc_method_handler,
            "SetForwardingPipelineConfig": grpc.unary_unary_rpc_method_handler,
            "GetForwardingPipelineConfig": grpc.unary_unary_rpc_method_handler,
            "StreamChannel": grpc.stream_stream_rpc_method_handler,
            "Capabilities": grpc.unary_unary_rpc_method_handler,
        }
        handlers = {
            name: make(getattr(self, name), request_deserializer=None,
                       response_serializer=_serialize)
            for name, make in method_kinds.items()
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("p4.v1.P4Runtime", handlers),))

    @staticmethod
    def _stream_error(error: P4RuntimeError) -> p4runtime_pb2.StreamError:
        return p4runtime_pb2.StreamError(canonical_code=error.code, message=error.message,
                                         space=ERROR_SPACE)


class _CollectorPause:
    """Pauses Python's cyclic garbage collector while a Write batch or a Read runs.

    Either allocates tens of thousands of small objects; each time enough of them
    survive, the collector walks every object of the process (entries, generated
    data-plane code, protobuf descriptors), which doubled the cost of a batch. The
    collector resumes, and catches up, when no batch is running.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._paused = False

    def __enter__(self) -> None:
        with self._lock:
            if self._running == 0 and gc.isenabled():
                gc.disable()
                self._paused = True
            self._running += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0 and self._paused:
                self._paused = False
                gc.enable()


_COLLECTOR_PAUSE = _CollectorPause()


def _serialize(message) -> bytes:
    return message.SerializeToString()


def _parse(parse, data: bytes, what: str):
    try:
        return parse(data)
    except (DecodeError, ValueError) as e:
        raise invalid(f"malformed {what}: {e}") from None
