"""Actions: P4Runtime ``Action`` <-> data-plane ``ActionCall``, with PI's checks.

Parameter values go to the data plane in the order of the JSON action's
``runtime_data``, which p4c makes the order of the P4Info action's params.
"""

from __future__ import annotations

from typing import Any

from p4switch.p4runtime.bytestrings import to_bytes, to_int
from p4switch.p4runtime.errors import invalid
from p4switch.p4runtime.p4info_index import ActionInfo, P4InfoIndex
from p4switch.p4runtime.proto import p4runtime_pb2
from p4switch.runtime_api import ActionCall


def build_action_call(index: P4InfoIndex, action: Any, where: str) -> ActionCall:
    """An ActionCall from a ``p4.v1.Action``; ``where`` names the table or profile."""
    info = index.actions.get(action.action_id)
    if info is None:
        raise invalid(f"{where}: action id {action.action_id} is not an action of the P4Info")
    params = info.params
    given = action.params
    if len(given) != len(params):
        raise invalid(f"{where}: action '{info.name}' takes {len(params)} parameters, "
                      f"{len(given)} given")
    args = [0] * len(params)
    seen = 0
    by_id = info.params_by_id
    for param in given:
        p = by_id.get(param.param_id)
        if p is None:
            raise invalid(f"{where}: action '{info.name}' has no parameter id {param.param_id}")
        bit = 1 << p.position
        if seen & bit:
            raise invalid(f"{where}: action '{info.name}' parameter {param.param_id} "
                          f"('{p.name}') is given twice")
        seen |= bit
        value = int.from_bytes(param.value, "big")
        if value >> p.bitwidth:
            # to_int's check, inline: its label is built only for the error
            to_int(param.value, p.bitwidth, f"{where}: action '{info.name}' parameter "
                                            f"{p.id} ('{p.name}', {p.bitwidth} bits)")
        args[p.position] = value
    return ActionCall(info.name, args)


def fill_action(info: ActionInfo, call: ActionCall, out: p4runtime_pb2.Action) -> None:
    out.action_id = info.id
    add = out.params.add
    for p, value in zip(info.params, call.args, strict=False):
        param = add()
        param.param_id = p.id
        param.value = to_bytes(value)
