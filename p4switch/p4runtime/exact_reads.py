"""Reads of whole all-exact tables (lb.p4's maglev and flow tables), as bytes.

Building a TableEntry message per entry costs ~6 us in the compiled protobuf
runtime, most of a Read of 100k entries. Here each entry is put together from
serialized one-field TableEntries (the table id, each match field, the
action, the extras), each made by protobuf once per distinct value in the
read: serialized messages concatenate to their merge, and in field-number
order, as protobuf serializes, to the very bytes of the whole entry
(tests/p4switch/server/test_exact_reads.py holds them equal to the messages
``_read_table`` builds). The memos go with the read: the switch keeps no copy
of its entries, and each holds at most MEMO_LIMIT values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from p4switch.p4runtime.proto import p4runtime_pb2

NS_PER_MS = 1_000_000
# Distinct values remembered per field (and actions, extras) in one read:
# enough for every VIP, bucket, port and AS of lb.p4; past it, as for flows'
# client addresses, pieces are made and not kept.
MEMO_LIMIT = 1 << 16
TableEntry = p4runtime_pb2.TableEntry

# (handle, key values, action name, action data, TTL ms): mt_get_exact_entries
ExactEntry = tuple[int, tuple[int, ...], str | None, tuple, int | None]


def read_exact_entries(info: Any, entries: Iterable[ExactEntry], actions: dict[str, Any],
                       extras: dict[int, Any], want_action: int,
                       add: Callable[[bytes], None]) -> None:
    """Hands ``add`` the serialized TableEntry of each entry (of action id
    ``want_action`` unless 0); ``extras``: the StoredEntry of a handle that has one."""
    table_piece = TableEntry(table_id=info.id).SerializeToString()
    fields: list[tuple[int, dict[int, bytes]]] = [(f.id, {}) for f in info.match_fields]
    action_pieces: dict[tuple, bytes] = {}
    extra_pieces: dict[tuple, bytes] = {}
    is_const = info.is_const
    for handle, values, action_name, args, ttl_ms in entries:
        action_info = actions.get(action_name) if action_name is not None else None
        if want_action and (action_info is None or action_info.id != want_action):
            continue
        parts = [table_piece]
        for (field_id, memo), value in zip(fields, values, strict=True):
            piece = memo.get(value)
            if piece is None:
                piece = _exact_piece(field_id, value)
                if len(memo) < MEMO_LIMIT:
                    memo[value] = piece
            parts.append(piece)
        if action_info is not None:
            piece = action_pieces.get((action_name, args))
            if piece is None:
                piece = _action_piece(action_info, args)
                if len(action_pieces) < MEMO_LIMIT:
                    action_pieces[(action_name, args)] = piece
            parts.append(piece)
        stored = extras.get(handle)
        if stored is None:
            extra = (0, b"", (ttl_ms or 0) * NS_PER_MS)
        else:
            extra = (stored.controller_metadata, stored.metadata,
                     stored.idle_timeout_ns or (ttl_ms or 0) * NS_PER_MS)
        if extra[0] or extra[1] or extra[2] or is_const:
            piece = extra_pieces.get(extra)
            if piece is None:
                piece = TableEntry(controller_metadata=extra[0], metadata=extra[1],
                                   idle_timeout_ns=extra[2], is_const=is_const).SerializeToString()
                if len(extra_pieces) < MEMO_LIMIT:
                    extra_pieces[extra] = piece
            parts.append(piece)
        add(b"".join(parts))


def _canonical(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def _exact_piece(field_id: int, value: int) -> bytes:
    """A TableEntry holding only this exact match field, serialized."""
    te = TableEntry()
    te.match.add(field_id=field_id).exact.value = _canonical(value)
    return te.SerializeToString()


def _action_piece(action_info: Any, args: tuple) -> bytes:
    """A TableEntry holding only this direct action, serialized."""
    te = TableEntry()
    action = te.action.action
    action.action_id = action_info.id
    for p, value in zip(action_info.params, args, strict=False):
        action.params.add(param_id=p.id, value=_canonical(value))
    return te.SerializeToString()
