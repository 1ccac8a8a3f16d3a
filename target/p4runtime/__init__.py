"""The P4Runtime server of the embedded switch (p4runtime 1.4.1, package p4.v1).

It follows PI's frontend (p4lang/PI proto/frontend, proto/server) and its
simple_switch_grpc backend, so that controllers, p4runtime-shell and PTF tests
see the behaviour and error codes they would get from BMv2. Reading order:

- ``server``: the gRPC server; ``service``: the RPCs, arbitration checks and
  the StreamChannel plumbing;
- ``device``: one device (PI's DeviceMgr): pipeline config, Write, Read,
  packet I/O and data-plane events;
- ``pipeline``: a loaded P4Info + BMv2 JSON and its state;
  ``p4info_index``: the P4Info by id;
- one module per entity: ``table_entries`` (with ``match_keys``, ``actions``),
  ``action_profiles``, ``counters_meters`` (with ``meter_configs``),
  ``replication`` (multicast groups, clone sessions), ``digests``;
- ``arbitration``, ``packet_io``, ``notification_loop``, ``bytestrings``,
  ``errors``.

The data plane is reached only through ``target.runtime_api.SwitchRuntime``.
"""

from target.p4runtime.device import Device
from target.p4runtime.server import DEFAULT_ADDRESS, P4RuntimeServer, ServerStartError

__all__ = ["Device", "P4RuntimeServer", "ServerStartError", "DEFAULT_ADDRESS"]
