"""The ``p4_device_config`` of a ForwardingPipelineConfig: the BMv2 JSON.

simple_switch_grpc takes the JSON itself, or (PI's legacy format, still read
by PI's DeviceMgr::pipeline_config_set with a "deprecated" warning) a
``p4.tmp.P4DeviceConfig`` message whose ``device_data`` holds it. PI tries the
message first; a JSON text never parses as one, so trying the JSON first reads
the same configs. The legacy flow where an empty ``device_data`` keeps the JSON
the switch was started with (VERIFY_AND_COMMIT only) is not supported: it is
refused, naming the format.
"""

from __future__ import annotations

import json

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from p4switch.p4runtime.errors import invalid


def _legacy_message_class():
    """p4.tmp.P4DeviceConfig (PI proto/p4/tmp/p4config.proto), built from its
    descriptor: no Python module of it is published."""
    f = descriptor_pb2.FileDescriptorProto(name="p4/tmp/p4config.proto", package="p4.tmp",
                                           syntax="proto3")
    msg = f.message_type.add(name="P4DeviceConfig")
    field = descriptor_pb2.FieldDescriptorProto
    msg.field.add(name="reassign", number=1, type=field.TYPE_BOOL, label=field.LABEL_OPTIONAL)
    msg.field.add(name="extras", number=2, type=field.TYPE_MESSAGE,
                  label=field.LABEL_OPTIONAL, type_name=".p4.tmp.P4DeviceConfig.Extras")
    msg.field.add(name="device_data", number=3, type=field.TYPE_BYTES,
                  label=field.LABEL_OPTIONAL)
    extras = msg.nested_type.add(name="Extras")
    extras.field.add(name="kv", number=1, type=field.TYPE_MESSAGE, label=field.LABEL_REPEATED,
                     type_name=".p4.tmp.P4DeviceConfig.Extras.KvEntry")
    entry = extras.nested_type.add(name="KvEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("p4.tmp.P4DeviceConfig"))


LegacyDeviceConfig = _legacy_message_class()


def parse_device_config(device_config: bytes) -> dict:
    """The BMv2 JSON program a ``p4_device_config`` carries."""
    if not device_config:
        raise invalid("p4_device_config is empty; it must hold the BMv2 JSON of the program")
    try:
        program = json.loads(device_config)
    except (UnicodeDecodeError, ValueError) as e:
        program = _from_legacy_message(device_config, e)
    if not isinstance(program, dict):
        raise invalid("p4_device_config is JSON but not a BMv2 program (not an object)")
    return program


def _from_legacy_message(device_config: bytes, json_error: Exception) -> object:
    legacy = LegacyDeviceConfig()
    try:
        legacy.ParseFromString(device_config)
    except DecodeError:
        legacy.Clear()
    if not legacy.ListFields():  # bytes that are neither (or an empty message)
        raise invalid(f"p4_device_config is not BMv2 JSON: {json_error}")
    if not legacy.device_data:
        raise invalid("p4_device_config is a p4.tmp.P4DeviceConfig without device_data; "
                      "keeping the BMv2 JSON the switch started with is not supported: "
                      "put the JSON in device_data, or send the JSON itself")
    try:
        return json.loads(legacy.device_data)
    except (UnicodeDecodeError, ValueError) as e:
        raise invalid(f"p4_device_config is a p4.tmp.P4DeviceConfig whose device_data is "
                      f"not BMv2 JSON: {e}") from None
