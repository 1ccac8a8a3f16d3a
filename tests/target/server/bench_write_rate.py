"""Measure the P4Runtime programming rate of the embedded switch (not a test).

    .venv/bin/python tests/target/server/bench_write_rate.py [--entries N] [--batch B]

Starts ``p4lb-switch`` as its own process (so the client does not share its
interpreter), pushes srv_features, then times: one Write of N exact entries
in batches of B, and N / 10 entries written one per request. The requests are
serialized before the clock starts: the figure is the switch's, not the cost
of building protobuf messages in the client.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from p4.v1 import p4runtime_pb2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

from p4rt_client import Controller, P4Names, load_p4info  # noqa: E402

BUILD = ROOT / "tests" / "target" / "p4" / "build"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    args = parser.parse_args()
    p4info = load_p4info(BUILD / "srv_features.p4info.txt")
    names = P4Names(p4info)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "target.main", "--no-p4",
                             "--grpc-server-addr", f"127.0.0.1:{port}"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()  # "Server listening on ..."
        c = Controller(f"127.0.0.1:{port}")
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
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    print(f"batched ({args.batch}/request): {args.entries} entries in {batched:.2f} s = "
          f"{args.entries / batched:,.0f} entries/s")
    print(f"one per request: {len(singles)} entries in {single:.2f} s = "
          f"{len(singles) / single:,.0f} entries/s")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        sys.exit(f"bench failed: {e.code().name}: {e.details()}")
