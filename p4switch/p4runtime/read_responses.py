"""What a Read answers: Entity messages built in place, ReadResponse by ReadResponse.

Appending a finished Entity to a ReadResponse copies it, and in the compiled
protobuf runtime that copy costs as much as building the entity (3 of 10 us
per table entry, measured on lb.p4's flow entries), so the readers of big
tables take a new Entity from ``add()`` instead; the others may ``append``
one. Several responses keep each message small, whatever the table sizes.

The reader of all-exact tables goes further and hands over each entry as its
serialized TableEntry (``add_table_entry_bytes``): those go into a message
laid out like ReadResponse whose entities hold table_entry as bytes, which
serializes to the very bytes of the ReadResponse, so gRPC sends it as any
other answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from p4switch.p4runtime.proto import p4runtime_pb2

ENTITIES_PER_READ_RESPONSE = 2000


def _bytes_read_response() -> type:
    """ReadResponse { repeated Entity entities = 1 }, Entity { bytes table_entry = 2 }:
    the field numbers of p4runtime.proto, with the TableEntry left serialized."""
    fdp = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="p4switch/bytes_read_response.proto",
                                              package="p4switch.bytes", syntax="proto3")
    entity = file.message_type.add(name="Entity")
    entity.field.add(name="table_entry", number=2, type=fdp.TYPE_BYTES, label=fdp.LABEL_OPTIONAL)
    response = file.message_type.add(name="ReadResponse")
    response.field.add(name="entities", number=1, type_name=".p4switch.bytes.Entity",
                       type=fdp.TYPE_MESSAGE, label=fdp.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(
        "p4switch.bytes.ReadResponse"))


BytesReadResponse = _bytes_read_response()


class ReadResponses:
    def __init__(self, per_message: int = ENTITIES_PER_READ_RESPONSE) -> None:
        # ReadResponse or BytesReadResponse messages, in the order of the answer.
        self.messages: list[Any] = []
        self._per_message = per_message
        self._room = 0
        self._entities: Any = None
        self._bytes = False  # the last message is a BytesReadResponse
        self._count = 0

    def _next(self, as_bytes: bool) -> None:
        message = BytesReadResponse() if as_bytes else p4runtime_pb2.ReadResponse()
        self.messages.append(message)
        self._entities = message.entities
        self._room = self._per_message
        self._bytes = as_bytes

    def add(self) -> p4runtime_pb2.Entity:
        """A new, empty Entity at the end of the answer."""
        if not self._room or self._bytes:
            self._next(False)
        self._room -= 1
        self._count += 1
        return self._entities.add()

    def append(self, entity: p4runtime_pb2.Entity) -> None:
        self.add().CopyFrom(entity)

    def add_table_entry_bytes(self, table_entry: bytes) -> None:
        """An Entity holding the TableEntry serialized as ``table_entry``."""
        if not self._room or not self._bytes:
            self._next(True)
        self._room -= 1
        self._count += 1
        self._entities.add(table_entry=table_entry)

    def response_messages(self) -> list[Any]:
        """What the Read sends, one message per ReadResponse (at least one, maybe empty)."""
        return self.messages or [p4runtime_pb2.ReadResponse()]

    def __iter__(self) -> Iterator[p4runtime_pb2.Entity]:
        for message in self.messages:
            if isinstance(message, BytesReadResponse):
                message = p4runtime_pb2.ReadResponse.FromString(message.SerializeToString())
            yield from message.entities

    def __len__(self) -> int:
        return self._count
