"""The generated P4Runtime modules the controller speaks: import them from here.

finsy's (``finsy.proto``), generated for protobuf >= 6 and its compiled (upb)
runtime, under the names of the proto packages' own modules. The switch has
its own import point (p4switch/p4runtime/proto.py): the two are separate
programs that share only the protocol.
"""

from finsy.proto import p4d as p4data_pb2
from finsy.proto import p4i as p4info_pb2
from finsy.proto import p4r as p4runtime_pb2
from finsy.proto import p4r_grpc as p4runtime_pb2_grpc
from finsy.proto import rpc_code as code_pb2
from finsy.proto import rpc_status as status_pb2

__all__ = ["code_pb2", "p4data_pb2", "p4info_pb2", "p4runtime_pb2", "p4runtime_pb2_grpc",
           "status_pb2"]
