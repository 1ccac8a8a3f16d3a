"""How the P4Runtime server reports errors: one exception type, and the batch status.

Every check in the server raises :class:`P4RuntimeError` with a canonical
``google.rpc.Code`` and a message that names the offending id, field or value.
A ``Write`` batch does not stop at the first error: as PI does
(proto/frontend/src/device_mgr.cpp, ``P4ErrorReporter``), each update gets a
``p4.v1.Error`` and, if any failed, the RPC ends with ``UNKNOWN`` and a
``google.rpc.Status`` whose details hold one ``Error`` per update, in order.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2

from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2, status_pb2
from p4switch.runtime_api import MatchError, RuntimeApiError

# The "space" PI puts in every p4.v1.Error it returns for simple_switch_grpc.
ERROR_SPACE = "ALL-sswitch-p4org"

# Trailing metadata key under which gRPC carries a google.rpc.Status.
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class P4RuntimeError(Exception):
    """A request (or one update of a batch) is refused with a canonical code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def code_name(self) -> str:
        return code_pb2.Code.Name(self.code)

    def grpc_code(self) -> grpc.StatusCode:
        return grpc_status_code(self.code)

    def __str__(self) -> str:
        return f"{self.code_name}: {self.message}"


def invalid(message: str) -> P4RuntimeError:
    return P4RuntimeError(code_pb2.INVALID_ARGUMENT, message)


def not_found(message: str) -> P4RuntimeError:
    return P4RuntimeError(code_pb2.NOT_FOUND, message)


def already_exists(message: str) -> P4RuntimeError:
    return P4RuntimeError(code_pb2.ALREADY_EXISTS, message)


def permission_denied(message: str) -> P4RuntimeError:
    return P4RuntimeError(code_pb2.PERMISSION_DENIED, message)


def unimplemented(message: str) -> P4RuntimeError:
    return P4RuntimeError(code_pb2.UNIMPLEMENTED, message)


def failed_precondition(message: str) -> P4RuntimeError:
    return P4RuntimeError(code_pb2.FAILED_PRECONDITION, message)


def resource_exhausted(message: str) -> P4RuntimeError:
    return P4RuntimeError(code_pb2.RESOURCE_EXHAUSTED, message)


def out_of_range(message: str) -> P4RuntimeError:
    return P4RuntimeError(code_pb2.OUT_OF_RANGE, message)


def grpc_status_code(code: int) -> grpc.StatusCode:
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return status
    return grpc.StatusCode.UNKNOWN


# What a data-plane refusal means to a P4Runtime client. PI turns almost every
# target error into UNKNOWN ("Error when adding match entry to target"); where
# the P4Runtime specification names a code (table full: RESOURCE_EXHAUSTED) we
# use it, and the message always carries the engine's own explanation.
_ENGINE_CODES = {
    MatchError.TABLE_FULL: code_pb2.RESOURCE_EXHAUSTED,
    MatchError.DUPLICATE_ENTRY: code_pb2.ALREADY_EXISTS,
    MatchError.NO_SUCH_ENTRY: code_pb2.NOT_FOUND,
    MatchError.INVALID_HANDLE: code_pb2.NOT_FOUND,
    MatchError.EXPIRED_HANDLE: code_pb2.NOT_FOUND,
    MatchError.INVALID_MBR_HANDLE: code_pb2.NOT_FOUND,
    MatchError.INVALID_GRP_HANDLE: code_pb2.NOT_FOUND,
    MatchError.MBR_STILL_USED: code_pb2.FAILED_PRECONDITION,
    MatchError.GRP_STILL_USED: code_pb2.FAILED_PRECONDITION,
    MatchError.DEFAULT_ACTION_IS_CONST: code_pb2.PERMISSION_DENIED,
    MatchError.DEFAULT_ENTRY_IS_CONST: code_pb2.PERMISSION_DENIED,
    MatchError.IMMUTABLE_TABLE_ENTRIES: code_pb2.PERMISSION_DENIED,
    MatchError.INVALID_INDEX: code_pb2.INVALID_ARGUMENT,
    MatchError.BAD_ACTION_DATA: code_pb2.INVALID_ARGUMENT,
    MatchError.BAD_MATCH_KEY: code_pb2.INVALID_ARGUMENT,
    MatchError.INVALID_METER_OPERATION: code_pb2.INVALID_ARGUMENT,
}


def from_engine(error: RuntimeApiError, doing: str) -> P4RuntimeError:
    """Translate a data-plane refusal; ``doing`` says what was being attempted."""
    code = _ENGINE_CODES.get(error.code, code_pb2.UNKNOWN)
    return P4RuntimeError(code, f"{doing}: {error}")


def make_error(error: P4RuntimeError | None) -> p4runtime_pb2.Error:
    if error is None:
        return p4runtime_pb2.Error(code=code_pb2.OK)
    return p4runtime_pb2.Error(
        canonical_code=error.code, message=error.message, space=ERROR_SPACE
    )


# The details travel as trailing metadata (base64): past 8 KB gRPC clients may
# refuse them, past 16 KB they do, with RESOURCE_EXHAUSTED instead of the
# status. PI sends them whole (a 10k-update batch with errors: ~1.7 MB).
MAX_DETAILS_BYTES = 4096
MAX_DETAIL_MESSAGE = 160


def batch_status(results: list[P4RuntimeError | None]) -> status_pb2.Status | None:
    """The status of a Write batch, or None when every update succeeded.

    The details hold one Error per update, in order, as far as MAX_DETAILS_BYTES
    allows: a client finding fewer details than updates knows neither way about
    the rest. The message always counts every failure."""
    failures = [(i, e) for i, e in enumerate(results) if e is not None]
    if not failures:
        return None
    first_index, first = failures[0]
    summary = (
        f"{len(failures)} of {len(results)} updates failed; "
        f"first at index {first_index}: {_cut(str(first), 4 * MAX_DETAIL_MESSAGE)}"
    )
    status = status_pb2.Status(code=code_pb2.UNKNOWN)
    size = 0
    for error in results:
        if error is not None and len(error.message) > MAX_DETAIL_MESSAGE:
            error = P4RuntimeError(error.code, _cut(error.message, MAX_DETAIL_MESSAGE))
        detail = any_pb2.Any()
        detail.Pack(make_error(error))
        size += detail.ByteSize() + 3  # its tag and length
        if size > MAX_DETAILS_BYTES:
            summary += f" (details for the first {len(status.details)} updates only)"
            break
        status.details.append(detail)
    status.message = summary
    return status


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
