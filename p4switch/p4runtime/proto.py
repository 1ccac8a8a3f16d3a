"""The generated P4Runtime modules the switch is built on: import them from here.

They are the modules the ``finsy`` package ships (``finsy.proto``), generated
for protobuf >= 6 and its compiled (upb) runtime; the official ``p4runtime``
wheels carry modules generated for an old protoc, which upb refuses to load.
The names are those of the proto packages' own modules (``p4.v1.p4runtime_pb2``
...), so code written against them reads as P4Runtime code anywhere does.
"""

from finsy.proto import p4d as p4data_pb2
from finsy.proto import p4i as p4info_pb2
from finsy.proto import p4r as p4runtime_pb2
from finsy.proto import p4r_grpc as p4runtime_pb2_grpc
from finsy.proto import rpc_code as code_pb2
from finsy.proto import rpc_status as status_pb2

__all__ = ["code_pb2", "p4data_pb2", "p4info_pb2", "p4runtime_pb2", "p4runtime_pb2_grpc",
           "status_pb2"]
