"""The P4Runtime server of the embedded switch (p4runtime 1.4.1, package p4.v1).

It follows PI's frontend (p4lang/PI proto/frontend, proto/server) and its
simple_switch_grpc backend, so that controllers, p4runtime-shell and PTF tests
see the behaviour and error codes they would get from BMv2. Reading order:

- ``server``: the gRPC server; ``service``: the RPCs, arbitration checks and
  the StreamChannel plumbing; ``proto``: the generated P4Runtime modules
  (finsy's, on the compiled protobuf runtime);
- ``device``: one device (PI's DeviceMgr): pipeline config, Write, Read
  (answered through ``read_responses``), packet I/O and data-plane events;
- ``pipeline``: a loaded P4Info + BMv2 JSON and its state;
  ``p4info_index``: the P4Info by id; ``device_config``: the JSON from the
  request; ``config_agreement``: how the two agree;
- one module per entity: ``table_entries`` (with ``match_keys``, ``actions``),
  ``action_profiles``, ``counters_meters`` (with ``meter_configs``),
  ``replication`` (multicast groups, clone sessions), ``digests``;
- ``arbitration``, ``packet_io``, ``notification_loop``, ``bytestrings``,
  ``errors``.

The data plane is reached only through ``p4switch.runtime_api.SwitchRuntime``.

Where this server knowingly differs from PI + simple_switch_grpc (the
P4Runtime specification, or a clearer error, decided):

- an unknown device id is NOT_FOUND for every RPC (PI: FAILED_PRECONDITION
  for Write and Read); a device config that is not BMv2 JSON is
  INVALID_ARGUMENT (PI: UNKNOWN), and so is one that VERIFY cannot load (PI's
  VERIFY reads the P4Info only); a P4Info that describes the JSON's tables,
  counters or meters otherwise than p4c ever does (``config_agreement``) is
  INVALID_ARGUMENT at the push (PI accepts it; writes then fail); PI's legacy
  ``p4.tmp.P4DeviceConfig`` is read, but not its empty-``device_data`` form;
- P4Info objects p4c left out of the JSON are accepted as PI accepts them,
  but reads of them find nothing and wildcard reads (and RECONCILE_AND_COMMIT)
  leave them out (PI fails those with UNKNOWN);
- each role has its own primary (PI ignores roles); a stream without an
  election id is a backup forever (PI takes it as 0);
- table entries naming an unknown action profile member or group get
  NOT_FOUND (PI: INVALID_ARGUMENT); refused group updates leave the group
  unchanged; one-shot selector programming and watch ports are UNIMPLEMENTED;
- const tables refuse INSERT, DELETE and action changes with
  PERMISSION_DENIED but accept direct counter / meter MODIFYs (specification);
- a priority on a table without ternary/range/optional fields, a negative
  priority, a match field or action parameter given twice: INVALID_ARGUMENT;
- data-plane refusals keep the engine's explanation and take the
  specification's code where it has one (table full: RESOURCE_EXHAUSTED,
  member or group still in use: FAILED_PRECONDITION), where PI says UNKNOWN;
- RECONCILE_AND_COMMIT is all or nothing and also carries counters, meter
  configs, changed default entries, multicast groups, clone sessions and
  digest configs;
- clone sessions honour packet_length_bytes (BMv2 refuses non-zero values);
- digest lists are sent exactly max_timeout_ns after their first sample (PI
  sweeps periodically and may take twice as long);
- PacketOut errors, and PacketOuts from backups, are answered with a
  StreamError (PI drops them unless its ServerConfig enables reporting);
- malformed request bytes are INVALID_ARGUMENT (gRPC's default: INTERNAL);
- long answers are split: 2000 entities per ReadResponse, 1000 entries per
  IdleTimeoutNotification.
"""

from p4switch.p4runtime.device import Device
from p4switch.p4runtime.server import DEFAULT_ADDRESS, P4RuntimeServer, ServerStartError

__all__ = ["Device", "P4RuntimeServer", "ServerStartError", "DEFAULT_ADDRESS"]
