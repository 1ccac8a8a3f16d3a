"""The packet replication engine: multicast groups and clone (mirroring) sessions
(bm_sim/simple_pre.cpp and simple_switch's MirroringSessions).
"""

from __future__ import annotations

from dataclasses import dataclass

from p4switch.runtime_api import MatchError, RuntimeApiError

MAX_MIRROR_SESSION = (1 << 15) - 1  # simple_switch RegisterAccess::MAX_MIRROR_SESSION_ID
MAX_PORT = (1 << 16) - 1


@dataclass(frozen=True)
class MirrorSession:
    egress_port: int | None
    mc_group: int | None
    truncate: int  # bytes kept of each clone, 0 = all


class Replication:
    def __init__(self) -> None:
        self.groups: dict[int, list[tuple[int, int]]] = {}
        self.sessions: dict[int, MirrorSession] = {}

    def set_group(self, group: int, replicas: list[tuple[int, int]]) -> None:
        if not isinstance(group, int) or not 0 < group <= 0xFFFF:
            raise RuntimeApiError(
                MatchError.INVALID_SESSION, f"multicast group {group!r} not in 1..65535"
            )
        if not isinstance(replicas, list | tuple):
            raise RuntimeApiError(MatchError.ERROR, f"replicas must be a list, got {replicas!r}")
        checked = []
        for r in replicas:
            if (
                not isinstance(r, tuple | list)
                or len(r) != 2
                or not all(isinstance(x, int) and 0 <= x <= MAX_PORT for x in r)
            ):
                raise RuntimeApiError(MatchError.ERROR, f"bad replica {r!r}: want (port, rid)")
            checked.append((r[0], r[1]))
        if checked:
            self.groups[group] = checked
        else:
            self.groups.pop(group, None)

    def set_session(
        self, session: int, egress_port: int | None, mc_group: int | None, truncate: int
    ) -> None:
        if not isinstance(session, int) or not 0 <= session <= MAX_MIRROR_SESSION:
            raise RuntimeApiError(
                MatchError.INVALID_SESSION,
                f"clone session {session!r} not in 0..{MAX_MIRROR_SESSION}",
            )
        if egress_port is None and mc_group is None:
            raise RuntimeApiError(
                MatchError.INVALID_SESSION, "a clone session needs a port or a group"
            )
        if egress_port is not None and not (
            isinstance(egress_port, int) and 0 <= egress_port <= MAX_PORT
        ):
            raise RuntimeApiError(MatchError.ERROR, f"bad egress port {egress_port!r}")
        if mc_group is not None and not (isinstance(mc_group, int) and 0 < mc_group <= 0xFFFF):
            raise RuntimeApiError(MatchError.INVALID_SESSION, f"bad multicast group {mc_group!r}")
        if not isinstance(truncate, int) or truncate < 0:
            raise RuntimeApiError(MatchError.ERROR, f"bad truncate length {truncate!r}")
        self.sessions[session] = MirrorSession(egress_port, mc_group, truncate)

    def delete_session(self, session: int) -> None:
        if not isinstance(session, int) or self.sessions.pop(session, None) is None:
            raise RuntimeApiError(MatchError.INVALID_SESSION, f"no clone session {session!r}")
