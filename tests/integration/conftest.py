from __future__ import annotations

import pytest

from controller.lb_values import CPU_PORT
from p4switch.launch import SwitchProcess
from tests.integration.lb_fixture import (
    LB_JSON,
    LbRig,
    PacketWire,
    SwitchReader,
    start_service,
)


@pytest.fixture
def rig(tmp_path):
    ipc = f"ipc://{tmp_path}/ports.ipc"
    switch = SwitchProcess(LB_JSON, packet_in=ipc, cpu_port=CPU_PORT,
                           log_path=tmp_path / "switch.log").start()
    service = None
    wire = reader = None
    try:
        service = start_service(switch, tmp_path / "state.json")
        wire = PacketWire(ipc)
        reader = SwitchReader(switch.grpc_addr, service.dataplane.schema)
        r = LbRig(switch, service, wire, reader, tmp_path / "state.json")
        yield r
        service = r.service
    finally:
        if reader:
            reader.close()
        if wire:
            wire.close()
        if service:
            service.close()
        switch.stop()
