"""Malformed protobuf bytes built from well-formed messages, for bad-input tests.

`with_stray_field` serializes a message with a few stray bytes inserted at one
field boundary of one (possibly nested) message, every enclosing length fixed
up, so the damage sits exactly where a decoder must notice it rather than
shifting everything after it. Only protobuf's own serializer and descriptors
are used: what a test sends does not depend on the decoder under test.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

# Keys whose field number is 0 (never legal), one per wire type, each with the
# payload its wire type expects; then a legal field number with the wire types
# protobuf has no use for (groups, 6 and 7).
STRAY_FIELDS = (
    b"\x00\x00", b"\x01" + bytes(8), b"\x02\x00", b"\x05" + bytes(4),
    b"\x0b", b"\x0c", b"\x0e", b"\x0f",
)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field_chunks(message: Message) -> list[tuple[FieldDescriptor, Message | None, bytes]]:
    """Each field (each element of a repeated one) as the bytes protobuf gives it
    alone, with the sub-message when it is one; concatenated, they are ``message``."""
    chunks = []
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            alone = type(message)()
            if field.is_repeated:
                target = getattr(alone, field.name)
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    target.add().CopyFrom(item)
                else:
                    target.append(item)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                getattr(alone, field.name).CopyFrom(item)
            else:
                setattr(alone, field.name, item)
            sub = item if field.type == FieldDescriptor.TYPE_MESSAGE else None
            chunks.append((field, sub, alone.SerializeToString()))
    return chunks


def with_stray_field(message: Message, stray: bytes) -> Iterator[bytes]:
    """``message`` serialized with ``stray`` at each field boundary of it and of
    every message nested in it, one boundary at a time."""
    chunks = _field_chunks(message)
    parts = [chunk for _, _, chunk in chunks]
    for at in range(len(parts) + 1):
        yield b"".join(parts[:at]) + stray + b"".join(parts[at:])
    for i, (field, sub, _) in enumerate(chunks):
        if sub is None:
            continue
        key = varint(field.number << 3 | 2)
        for inner in with_stray_field(sub, stray):
            yield (b"".join(parts[:i]) + key + varint(len(inner)) + inner
                   + b"".join(parts[i + 1:]))
