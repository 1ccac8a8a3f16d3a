"""Measure the P4Runtime programming rate of the embedded switch (not a test).

    .venv/bin/python tests/p4switch/server/bench_write_rate.py [--entries N] [--batch B]
                                                            [--target embedded|bmv2]

Starts the switch as its own process (p4lb-switch, or simple_switch_grpc with
--target bmv2), pushes srv_features, then times: N exact entries written in
batches of B, and N / 10 entries written one per request. The requests are
serialized before the clock starts: the figure is the switch's, not the cost
of building protobuf messages in the client.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import grpc

from p4switch.p4runtime.proto import p4runtime_pb2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

from p4rt_client import Controller, P4Names, load_p4info  # noqa: E402

from p4switch.launch import SwitchProcess  # noqa: E402

BUILD = ROOT / "tests" / "p4switch" / "p4" / "build"


def serialized_batches(names: P4Names, first: int, count: int, batch: int) -> list[bytes]:
    table = names.table("dmac")
    action = names.action("forward")
    out = []
    for start in range(first, first + count, batch):
        request = p4runtime_pb2.WriteRequest(device_id=0)
        request.election_id.low = 1
        for mac in range(start, min(start + batch, first + count)):
            entry = request.updates.add(type=p4runtime_pb2.Update.INSERT).entity.table_entry
            entry.table_id = table.preamble.id
            entry.match.add(field_id=table.match_fields[0].id).exact.value = mac.to_bytes(6, "big")
            entry.action.action.action_id = action.preamble.id
            entry.action.action.params.add(param_id=action.params[0].id, value=b"\x01")
        out.append(request.SerializeToString())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--target", choices=["embedded", "bmv2"], default="embedded")
    args = parser.parse_args()
    p4info = load_p4info(BUILD / "srv_features.p4info.txt")
    names = P4Names(p4info)
    with SwitchProcess(None, target=args.target) as switch:
        c = Controller(switch.grpc_addr)
        c.set_pipeline(p4info, (BUILD / "srv_features.json").read_bytes())
        write = c.channel.unary_unary("/p4.v1.P4Runtime/Write")
        batches = serialized_batches(names, 1, args.entries, args.batch)
        start = time.perf_counter()
        for data in batches:
            write(data)
        batched = time.perf_counter() - start
        singles = serialized_batches(names, 10**9, args.entries // 10, 1)
        start = time.perf_counter()
        for data in singles:
            write(data)
        single = time.perf_counter() - start
        c.close()
    print(f"{args.target}: {args.entries} entries, {args.batch} per request: {batched:.2f} s = "
          f"{args.entries / batched:,.0f} entries/s")
    print(f"{args.target}: {len(singles)} entries, one per request: {single:.2f} s = "
          f"{len(singles) / single:,.0f} entries/s")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        sys.exit(f"bench failed: {e.code().name}: {e.details()}")
