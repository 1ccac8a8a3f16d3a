"""Action profile members and groups (manual programming), as PI's ActionProfMgr.

The data plane, like BMv2, holds a member at most once in a group. A P4Runtime
group member of weight W is therefore W data-plane members with the same action:
the member's own handle and W-1 copies, created when a group needs them and
deleted when no group does (PI: ``create_missing_weighted_members`` /
``purge_unused_weighted_members``). Membership is validated in full before the
data plane is touched, so a refused update leaves the group as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p4switch.p4runtime.actions import build_action_call, fill_action
from p4switch.p4runtime.errors import (
    already_exists,
    failed_precondition,
    from_engine,
    invalid,
    not_found,
    resource_exhausted,
    unimplemented,
)
from p4switch.p4runtime.p4info_index import ActionProfileInfo, P4InfoIndex
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.runtime_api import ActionCall, RuntimeApiError, SwitchRuntime

Update = p4runtime_pb2.Update


@dataclass
class Member:
    id: int
    action: ActionCall
    action_id: int
    handles: list[int]  # handles[0] is the member itself, the rest weight copies
    weights: dict[int, int] = field(default_factory=dict)  # group id -> weight


@dataclass
class Group:
    id: int
    handle: int
    max_size: int  # as the client gave it (0: no limit of its own)
    members: dict[int, int] = field(default_factory=dict)  # member id -> weight


class ActionProfileState:
    """Members and groups of one action profile, and their data-plane handles."""

    def __init__(self, info: ActionProfileInfo, index: P4InfoIndex,
                 runtime: SwitchRuntime) -> None:
        self.info = info
        self.index = index
        self.runtime = runtime
        self.members: dict[int, Member] = {}
        self.groups: dict[int, Group] = {}
        self.member_ids_by_handle: dict[int, int] = {}
        self.group_ids_by_handle: dict[int, int] = {}

    @property
    def label(self) -> str:
        return f"action profile '{self.info.name}'"

    def _call(self, doing: str, fn, *args):
        try:
            return fn(*args)
        except RuntimeApiError as e:
            raise from_engine(e, f"{self.label}: {doing}") from None

    # --- members -------------------------------------------------------------

    def write_member(self, update_type: int, member: p4runtime_pb2.ActionProfileMember) -> None:
        if update_type == Update.INSERT:
            self._insert_member(member)
        elif update_type == Update.MODIFY:
            self._modify_member(member)
        elif update_type == Update.DELETE:
            self._delete_member(member)
        else:
            raise invalid(f"{self.label}: update type {update_type} is not INSERT, MODIFY "
                          "or DELETE")

    def _member_action(self, member) -> ActionCall:
        where = f"{self.label} member {member.member_id}"
        if not member.HasField("action"):
            raise invalid(f"{where}: 'action' must be set")
        call = build_action_call(self.index, member.action, where)
        if member.action.action_id not in self.info.action_ids:
            raise invalid(f"{where}: action '{call.name}' is not an action of the tables "
                          "using this profile")
        return call

    def _insert_member(self, member) -> None:
        call = self._member_action(member)
        if member.member_id in self.members:
            raise already_exists(f"{self.label}: member id {member.member_id} already exists")
        prof = self.info.name
        handle = self._call("adding a member", self.runtime.mt_act_prof_add_member, prof, call)
        self.members[member.member_id] = Member(
            member.member_id, call, member.action.action_id, [handle])
        self.member_ids_by_handle[handle] = member.member_id

    def _modify_member(self, member) -> None:
        call = self._member_action(member)
        state = self._get_member(member.member_id)
        for handle in state.handles:
            self._call("modifying a member", self.runtime.mt_act_prof_modify_member,
                       self.info.name, handle, call)
        state.action = call
        state.action_id = member.action.action_id

    def _delete_member(self, member) -> None:
        state = self._get_member(member.member_id)
        if state.weights:
            groups = ", ".join(str(g) for g in sorted(state.weights))
            raise failed_precondition(f"{self.label}: member {member.member_id} is still in "
                                      f"group(s) {groups}")
        self._call("deleting a member", self.runtime.mt_act_prof_delete_member,
                   self.info.name, state.handles[0])
        del self.members[member.member_id]
        del self.member_ids_by_handle[state.handles[0]]

    def _get_member(self, member_id: int) -> Member:
        state = self.members.get(member_id)
        if state is None:
            raise not_found(f"{self.label}: member id {member_id} does not exist")
        return state

    # --- groups --------------------------------------------------------------

    def write_group(self, update_type: int, group: p4runtime_pb2.ActionProfileGroup) -> None:
        if not self.info.with_selector:
            raise invalid(f"{self.label} has no selector: it cannot hold groups")
        if update_type == Update.INSERT:
            self._insert_group(group)
        elif update_type == Update.MODIFY:
            self._modify_group(group)
        elif update_type == Update.DELETE:
            self._delete_group(group)
        else:
            raise invalid(f"{self.label}: update type {update_type} is not INSERT, MODIFY "
                          "or DELETE")

    def _insert_group(self, group) -> None:
        if group.max_size < 0:
            raise invalid(f"{self.label} group {group.group_id}: max_size cannot be negative")
        limit = self.info.max_group_size
        if limit > 0 and group.max_size > limit:
            raise invalid(f"{self.label} group {group.group_id}: max_size {group.max_size} "
                          f"exceeds the profile's max_group_size {limit}")
        if group.group_id in self.groups:
            raise already_exists(f"{self.label}: group id {group.group_id} already exists")
        membership = self._validate_membership(group, group.max_size)
        handle = self._call("creating a group", self.runtime.mt_act_prof_create_group,
                            self.info.name)
        state = Group(group.group_id, handle, group.max_size)
        self.groups[group.group_id] = state
        self.group_ids_by_handle[handle] = group.group_id
        self._apply_membership(state, membership)

    def _modify_group(self, group) -> None:
        state = self.groups.get(group.group_id)
        if state is None:
            raise not_found(f"{self.label}: group id {group.group_id} does not exist")
        if group.max_size != 0 and group.max_size != state.max_size:
            raise invalid(f"{self.label} group {group.group_id}: max_size cannot change after "
                          f"creation ({state.max_size} -> {group.max_size})")
        membership = self._validate_membership(group, state.max_size)
        self._apply_membership(state, membership)

    def _delete_group(self, group) -> None:
        state = self.groups.get(group.group_id)
        if state is None:
            raise not_found(f"{self.label}: group id {group.group_id} does not exist")
        self._call("deleting a group", self.runtime.mt_act_prof_delete_group,
                   self.info.name, state.handle)
        del self.groups[group.group_id]
        del self.group_ids_by_handle[state.handle]
        for member_id in state.members:
            member = self.members[member_id]
            del member.weights[group.group_id]
            self._purge_copies(member)

    def _validate_membership(self, group, max_size: int) -> dict[int, int]:
        where = f"{self.label} group {group.group_id}"
        membership: dict[int, int] = {}
        for m in group.members:
            if m.weight <= 0:
                raise invalid(f"{where}: member {m.member_id} has weight {m.weight}; weights "
                              "must be positive")
            if m.member_id not in self.members:
                raise not_found(f"{where}: member id {m.member_id} does not exist")
            if m.member_id in membership:
                raise invalid(f"{where}: member {m.member_id} is listed twice; use weights")
            if m.WhichOneof("watch_kind") is not None:
                raise unimplemented(f"{where}: watch ports are not supported")
            membership[m.member_id] = m.weight
        limit = max_size or self.info.max_group_size
        total = sum(membership.values())
        if limit > 0 and total > limit:
            raise resource_exhausted(f"{where}: the sum of member weights ({total}) exceeds "
                                     f"the maximum group size ({limit})")
        return membership

    def _apply_membership(self, group: Group, membership: dict[int, int]) -> None:
        prof = self.info.name
        rt = self.runtime
        for member_id in set(group.members) | set(membership):
            member = self.members[member_id]
            old = group.members.get(member_id, 0)
            new = membership.get(member_id, 0)
            while len(member.handles) < new:
                copy = self._call("adding a weighted member copy", rt.mt_act_prof_add_member,
                                  prof, member.action)
                member.handles.append(copy)
                self.member_ids_by_handle[copy] = member_id
            for i in range(old - 1, new - 1, -1):
                self._call("removing a member from a group",
                           rt.mt_act_prof_remove_member_from_group,
                           prof, member.handles[i], group.handle)
            for i in range(old, new):
                self._call("adding a member to a group", rt.mt_act_prof_add_member_to_group,
                           prof, member.handles[i], group.handle)
            if new:
                group.members[member_id] = new
                member.weights[group.id] = new
            else:
                group.members.pop(member_id, None)
                member.weights.pop(group.id, None)
            self._purge_copies(member)

    def _purge_copies(self, member: Member) -> None:
        needed = max(member.weights.values(), default=1)
        while len(member.handles) > needed:
            copy = member.handles.pop()
            self._call("deleting a weighted member copy", self.runtime.mt_act_prof_delete_member,
                       self.info.name, copy)
            del self.member_ids_by_handle[copy]

    # --- table entries pointing here ------------------------------------------

    def member_handle(self, member_id: int, where: str) -> int:
        member = self.members.get(member_id)
        if member is None:
            raise not_found(f"{where}: member id {member_id} does not exist in {self.label}")
        return member.handles[0]

    def group_handle(self, group_id: int, where: str) -> int:
        if not self.info.with_selector:
            raise invalid(f"{where}: {self.label} has no selector, so no groups")
        group = self.groups.get(group_id)
        if group is None:
            raise not_found(f"{where}: group id {group_id} does not exist in {self.label}")
        return group.handle

    # --- reads ---------------------------------------------------------------

    def read_members(self, member_id: int, response: list) -> None:
        ids = sorted(self.members) if member_id == 0 else (
            [member_id] if member_id in self.members else [])
        for mid in ids:
            state = self.members[mid]
            entity = p4runtime_pb2.Entity()
            out = entity.action_profile_member
            out.action_profile_id = self.info.id
            out.member_id = mid
            fill_action(self.index.actions[state.action_id], state.action, out.action)
            response.append(entity)

    def read_groups(self, group_id: int, response: list) -> None:
        ids = sorted(self.groups) if group_id == 0 else (
            [group_id] if group_id in self.groups else [])
        for gid in ids:
            state = self.groups[gid]
            entity = p4runtime_pb2.Entity()
            out = entity.action_profile_group
            out.action_profile_id = self.info.id
            out.group_id = gid
            out.max_size = state.max_size
            for mid, weight in sorted(state.members.items()):
                out.members.add(member_id=mid, weight=weight)
            response.append(entity)
