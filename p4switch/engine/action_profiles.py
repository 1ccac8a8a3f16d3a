"""Action profiles and selectors (bm_sim/action_profile.cpp).

Members are (action, data); groups are sets of members. A table entry of an
indirect table points at a member, or (with a selector) at a group, from
which BMv2 picks ``members_sorted_by_handle[hash % group_size]``, the hash
being the selector's calculation over its input fields. Handles are the
lowest free numbers, as BMv2's handle manager gives them, so that group
member choice matches BMv2 for the same sequence of calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from p4switch.runtime_api import MatchError, RuntimeApiError

from .actions import Action
from .packet import Packet


@dataclass
class Member:
    action: Action
    data: tuple[int, ...]


def _lowest_free(used: dict[int, object]) -> int:
    h = 0
    while h in used:
        h += 1
    return h


class ActionProfile:
    def __init__(self, name: str, max_size: int, selector: Callable[[Packet], int] | None) -> None:
        self.name = name
        self.max_size = max_size
        self.selector = selector  # None: plain action profile
        self.actions: dict[str, Action] = {}  # filled by the tables using this profile
        self.members: dict[int, Member] = {}
        self.groups: dict[int, list[int]] = {}  # group -> sorted member handles
        self.refs: dict[tuple[str, int], int] = {}  # ("m"|"g", handle) -> users

    # --- lookups from the data plane ---------------------------------------------
    def choose(self, group: int, P: Packet) -> Member | None:
        members = self.groups.get(group)
        if not members:
            return None  # BMv2 logs "empty group" and runs no action
        h = self.selector(P) if self.selector is not None else 0
        return self.members[members[h % len(members)]]

    # --- control plane --------------------------------------------------------------
    def _action(self, name: str, args: list[int]) -> Action:
        if not isinstance(name, str) or not isinstance(args, list | tuple):
            raise RuntimeApiError(MatchError.BAD_ACTION_DATA, f"bad action {name!r}({args!r})")
        a = self.actions.get(name)
        if a is None:
            raise RuntimeApiError(
                MatchError.INVALID_ACTION_NAME,
                f"action {name!r} is not an action of profile {self.name!r}",
            )
        why = a.check_data(args)
        if why:
            raise RuntimeApiError(MatchError.BAD_ACTION_DATA, why)
        return a

    def check_member(self, member: int) -> Member:
        m = self.members.get(member) if isinstance(member, int) else None
        if m is None:
            raise RuntimeApiError(
                MatchError.INVALID_MBR_HANDLE, f"profile {self.name!r} has no member {member!r}"
            )
        return m

    def check_group(self, group: int) -> list[int]:
        g = self.groups.get(group) if isinstance(group, int) else None
        if g is None:
            raise RuntimeApiError(
                MatchError.INVALID_GRP_HANDLE, f"profile {self.name!r} has no group {group!r}"
            )
        return g

    def ref(self, kind: str, handle: int, delta: int) -> None:
        key = (kind, handle)
        self.refs[key] = self.refs.get(key, 0) + delta

    def add_member(self, name: str, args: list[int]) -> int:
        a = self._action(name, args)
        if len(self.members) >= self.max_size:
            raise RuntimeApiError(MatchError.TABLE_FULL, f"action profile {self.name!r} is full")
        h = _lowest_free(self.members)
        self.members[h] = Member(a, tuple(args))
        return h

    def modify_member(self, member: int, name: str, args: list[int]) -> None:
        self.check_member(member)
        a = self._action(name, args)
        self.members[member] = Member(a, tuple(args))

    def delete_member(self, member: int) -> None:
        self.check_member(member)
        if self.refs.get(("m", member), 0) > 0:
            raise RuntimeApiError(
                MatchError.MBR_STILL_USED,
                f"member {member} of {self.name!r} is used by a table entry or group",
            )
        del self.members[member]

    def create_group(self) -> int:
        if self.selector is None:
            raise RuntimeApiError(
                MatchError.WRONG_TABLE_TYPE, f"action profile {self.name!r} has no selector"
            )
        h = _lowest_free(self.groups)
        self.groups[h] = []
        return h

    def delete_group(self, group: int) -> None:
        members = self.check_group(group)
        if self.refs.get(("g", group), 0) > 0:
            raise RuntimeApiError(
                MatchError.GRP_STILL_USED,
                f"group {group} of {self.name!r} is used by a table entry",
            )
        for m in members:
            self.ref("m", m, -1)
        del self.groups[group]

    def add_to_group(self, member: int, group: int) -> None:
        self.check_member(member)
        members = self.check_group(group)
        if member in members:
            raise RuntimeApiError(
                MatchError.MBR_ALREADY_IN_GRP, f"member {member} is already in group {group}"
            )
        members.append(member)
        members.sort()
        self.ref("m", member, 1)

    def remove_from_group(self, member: int, group: int) -> None:
        self.check_member(member)
        members = self.check_group(group)
        if member not in members:
            raise RuntimeApiError(
                MatchError.MBR_NOT_IN_GRP, f"member {member} is not in group {group}"
            )
        members.remove(member)
        self.ref("m", member, -1)
