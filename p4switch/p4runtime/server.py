"""The gRPC server that carries the P4Runtime service for one device."""

from __future__ import annotations

import logging
from concurrent import futures

import grpc

from p4switch.p4runtime.device import Device
from p4switch.p4runtime.service import MAX_OPEN_STREAMS, P4RuntimeService

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1:9559"
# PI allows 256 MB; a pure-Python protobuf needs several times a message's size
# in memory, so a smaller cap keeps a hostile batch from exhausting it. gRPC
# refuses anything larger with RESOURCE_EXHAUSTED before the server sees it.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ServerStartError(Exception):
    pass


class P4RuntimeServer:
    def __init__(self, device: Device, address: str = DEFAULT_ADDRESS,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 credentials: grpc.ServerCredentials | None = None) -> None:
        """``credentials``: TLS (grpc.ssl_server_credentials); None: plaintext."""
        self.device = device
        self.address = address
        self.credentials = credentials
        self.service = P4RuntimeService(device)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=MAX_OPEN_STREAMS + 12,
                                       thread_name_prefix="p4rt-grpc"),
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
                # Without this, a second server could share the port silently.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.service.register(self._server)
        self.port = 0

    def start(self) -> int:
        """Bind and start serving; returns the bound TCP port."""
        try:
            if self.credentials is None:
                port = self._server.add_insecure_port(self.address)
            else:
                port = self._server.add_secure_port(self.address, self.credentials)
        except RuntimeError as e:
            raise ServerStartError(f"cannot listen on {self.address}: {e}") from None
        if port == 0:
            raise ServerStartError(f"cannot listen on {self.address}")
        self._server.start()
        self.port = port
        log.info("P4Runtime server for device %d listening on %s%s", self.device.device_id,
                 self.address, "" if self.credentials is None else " (TLS)")
        return port

    def stop(self, grace: float = 1.0) -> None:
        self._server.stop(grace).wait()
