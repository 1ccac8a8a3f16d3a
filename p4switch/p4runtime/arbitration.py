"""Client arbitration: which StreamChannel is the primary controller, per role.

Rules of PI's pi_server.cpp (DeviceState) with the P4Runtime specification's
roles: the live stream with the highest election id in a role is its primary,
every other stream of the role a backup. A stream without an election id is a
backup that can never become primary (spec, "Unset Election ID"). Whenever the
primary of a role changes, every stream of the role is told (OK to the primary,
ALREADY_EXISTS to backups, NOT_FOUND when the role has no primary); otherwise
only the stream that sent the update is answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from p4switch.p4runtime.errors import (
    failed_precondition,
    invalid,
    not_found,
    permission_denied,
    resource_exhausted,
)
from p4switch.p4runtime.proto import code_pb2, p4runtime_pb2

log = logging.getLogger(__name__)

ElectionId = tuple[int, int] | None  # (high, low); None when the field is unset
StreamMessage = p4runtime_pb2.StreamMessageResponse

MAX_CONNECTIONS = 16  # per device, as PI


def election_id_of(message) -> ElectionId:
    if not message.HasField("election_id"):
        return None
    return message.election_id.high, message.election_id.low


def _format(election_id: ElectionId) -> str:
    if election_id is None:
        return "unset"
    high, low = election_id
    return f"(high={high}, low={low})"


class StreamConnection:
    """One StreamChannel and what its arbitration updates told the server."""

    def __init__(self, send: Callable[[StreamMessage], None]) -> None:
        self.send = send
        self.arbitrated = False
        self.role = ""
        self.election_id: ElectionId = None


class Arbitration:
    def __init__(self, device_id: int) -> None:
        self.device_id = device_id
        self._lock = threading.Lock()
        self._roles: dict[str, list[StreamConnection]] = {}

    def _count(self) -> int:
        return sum(len(c) for c in self._roles.values())

    def _primary(self, role: str) -> StreamConnection | None:
        best = None
        for conn in self._roles.get(role, ()):
            if conn.election_id is not None and (
                    best is None or conn.election_id > best.election_id):
                best = conn
        return best

    def update(self, conn: StreamConnection, update: p4runtime_pb2.MasterArbitrationUpdate) -> None:
        """Apply a MasterArbitrationUpdate; a P4RuntimeError ends the stream."""
        role = update.role.name
        election_id = election_id_of(update)
        with self._lock:
            if not conn.arbitrated:
                if update.device_id != self.device_id:
                    raise not_found(f"device id {update.device_id} is unknown; this switch is "
                                    f"device {self.device_id}")
                peers = self._roles.get(role, [])
                self._refuse_duplicate(peers, conn, election_id, role)
                if self._count() >= MAX_CONNECTIONS:
                    raise resource_exhausted(f"too many controller streams (max "
                                             f"{MAX_CONNECTIONS})")
                conn.arbitrated, conn.role, conn.election_id = True, role, election_id
                self._roles.setdefault(role, []).append(conn)
                if self._primary(role) is conn:
                    self._notify_all(role)
                else:
                    self._notify(conn)
                return
            if update.device_id != self.device_id:
                raise failed_precondition(f"this stream is for device {self.device_id}, not "
                                          f"{update.device_id}")
            if role != conn.role:
                raise failed_precondition(f"this stream has role '{conn.role}'; open a new "
                                          f"stream for role '{role}'")
            self._refuse_duplicate(self._roles[role], conn, election_id, role)
            was_primary = self._primary(role) is conn
            conn.election_id = election_id
            if was_primary != (self._primary(role) is conn):
                self._notify_all(role)
            else:
                self._notify(conn)

    @staticmethod
    def _refuse_duplicate(peers, conn, election_id: ElectionId, role: str) -> None:
        if election_id is None:
            return
        for other in peers:
            if other is not conn and other.election_id == election_id:
                raise invalid(f"election id {_format(election_id)} is already used by another "
                              f"controller of role '{role}'")

    def remove(self, conn: StreamConnection) -> None:
        with self._lock:
            if not conn.arbitrated:
                return
            peers = self._roles.get(conn.role, [])
            was_primary = self._primary(conn.role) is conn
            if conn in peers:
                peers.remove(conn)
            if not peers:
                self._roles.pop(conn.role, None)
            elif was_primary:
                self._notify_all(conn.role)

    def is_primary(self, conn: StreamConnection) -> bool:
        with self._lock:
            return conn.arbitrated and self._primary(conn.role) is conn

    def check_writer(self, role: str, election_id: ElectionId) -> None:
        """PI's Write / SetForwardingPipelineConfig check, per role."""
        with self._lock:
            if self._count() == 0:
                # PI accepts requests without an election id while no controller is
                # connected (handy for debugging tools), and refuses any that has one.
                if election_id is not None:
                    raise permission_denied("not primary: no controller stream is open, so "
                                            "no election id can be primary")
                return
            if role not in self._roles:
                raise not_found(f"role '{role}' has no controller stream on this device")
            primary = self._primary(role)
            if primary is None or election_id is None or primary.election_id != election_id:
                raise permission_denied(
                    f"not primary: election id {_format(election_id)} is not the primary's "
                    f"of role '{role}'")

    def send_to_primaries(self, message: StreamMessage) -> bool:
        with self._lock:
            primaries = [p for p in map(self._primary, self._roles) if p is not None]
        for conn in primaries:
            conn.send(message)
        return bool(primaries)

    # --- notifications (lock held) --------------------------------------------

    def _notify_all(self, role: str) -> None:
        primary = self._primary(role)
        log.info("role '%s': primary is now %s", role,
                 _format(primary.election_id) if primary is not None else "none")
        for conn in self._roles.get(role, ()):
            self._notify(conn)

    def _notify(self, conn: StreamConnection) -> None:
        primary = self._primary(conn.role)
        message = p4runtime_pb2.StreamMessageResponse()
        arb = message.arbitration
        arb.device_id = self.device_id
        if conn.role:
            arb.role.name = conn.role
        if primary is None:
            arb.status.code = code_pb2.NOT_FOUND
            arb.status.message = "No primary"
        else:
            arb.election_id.high, arb.election_id.low = primary.election_id
            if primary is conn:
                arb.status.code = code_pb2.OK
                arb.status.message = "Is primary"
            else:
                arb.status.code = code_pb2.ALREADY_EXISTS
                arb.status.message = "Is backup"
        conn.send(message)

