"""Figure 1: packets/s of lb.p4 with a realistic state, ours against a baseline.

Both switches run side by side: each is started and loaded with the same
state (100 VIPs of 10 ASs, new_len 1024, 10k tracked flows by default), then
every traffic case is measured on ours and at once on the baseline, so slow
phases of a shared machine hit both. Cases: 64- and 1400-byte frames (frame
length without FCS), of established flows (the tracked flows, cycled) and of
new flows (never tracked: each takes the Maglev bucket and emits a digest).

The controller is not connected while traffic runs: the figure is the data
plane's, and a digest is then dropped by the switch (on BMv2 and ours alike).

Both switches run with --log-level off; with BMv2, its first case is also
measured at BMv2's default log level, as a row of its own (what a default
simple_switch_grpc would have scored).

The baseline is BMv2 running lb.p4 when installed; otherwise the embedded
switch running tests/p4switch/p4/srv_minimal.p4 (one exact table on the
destination MAC) on the same frames, so the ratio says what the load
balancer costs against the cheapest forwarding the switch can do.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_results import BenchRun, Row
from bench.lb_state import (
    CLIENT_PORT,
    LB_MAC,
    SERVER_PORT,
    LbStateSize,
    LoadedState,
    flow_frame,
    load_state,
    start_controller,
)
from bench.packet_rate import RateResult, measure_rate
from bench.switch_pair import BMV2, BMV2_NAME, EMBEDDED, running_switch
from controller.p4_schema import DecodedEntry, P4Schema
from controller.p4runtime_codec import EntryCodec
from controller.p4runtime_proto import p4runtime_pb2
from controller.switch_session import SwitchAddress, SwitchSession
from p4switch.launch import SwitchProcess
from tests.integration.lb_fixture import LB_JSON, PacketWire
from tests.p4switch.server.p4rt_client import load_p4info

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_JSON = ROOT / "tests" / "p4switch" / "p4" / "build" / "srv_minimal.json"
REFERENCE_P4INFO = ROOT / "tests" / "p4switch" / "p4" / "build" / "srv_minimal.p4info.txt"
REFERENCE_NAME = ("embedded switch running srv_minimal.p4 (one exact table on dst MAC), "
                  "same frames: BMv2 not installed")


@dataclass(frozen=True)
class DataplanePlan:
    size: LbStateSize = field(default_factory=LbStateSize)
    seconds: float = 4.0  # per case and switch
    warmup_s: float = 1.0
    frame_sizes: tuple[int, ...] = (64, 1400)
    new_flows: int = 4096  # distinct new flows, cycled


QUICK_PLAN = DataplanePlan(LbStateSize(vips=10, flows=1000), seconds=1.0, warmup_s=0.3,
                           new_flows=1000)


def traffic(plan: DataplanePlan) -> dict[tuple[int, str], list[bytes]]:
    vips = plan.size.vips
    out = {}
    for size in plan.frame_sizes:
        out[(size, "established")] = [flow_frame(i, vips, size, False)
                                      for i in range(plan.size.flows)]
        out[(size, "new")] = [flow_frame(i, vips, size, True) for i in range(plan.new_flows)]
    return out


def start_reference(switch: SwitchProcess) -> None:
    """srv_minimal.p4 forwarding every frame to the LB's MAC out of SERVER_PORT."""
    info = load_p4info(REFERENCE_P4INFO)
    session = SwitchSession(SwitchAddress(switch.grpc_addr, 0), info,
                            REFERENCE_JSON.read_bytes(), election_id=1)
    session.start()
    try:
        if not session.wait_ready(60):
            raise TimeoutError(f"no P4Runtime session to {switch.grpc_addr}")
        schema = P4Schema(info)
        mac = int(LB_MAC.replace(":", ""), 16)
        session.write([EntryCodec(schema).update(
            p4runtime_pb2.Update.INSERT, DecodedEntry("dmac", (mac,), "forward", (SERVER_PORT,)))])
    finally:
        session.stop()


def harness_ceiling(frames: list[bytes], seconds: float, workdir: Path) -> RateResult:
    """Packets/s through bench.wire_echo: the harness with no switch behind it."""
    workdir.mkdir(parents=True, exist_ok=True)
    address = f"ipc://{workdir}/echo.ipc"
    proc = subprocess.Popen([sys.executable, "-m", "bench.wire_echo", address], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    wire = None
    try:
        if not proc.stdout.readline().startswith("listening"):
            raise RuntimeError(f"bench.wire_echo did not start (exit code {proc.poll()})")
        wire = PacketWire(address)
        measure_rate(wire, CLIENT_PORT, frames, seconds / 4)  # warm up
        return measure_rate(wire, CLIENT_PORT, frames, seconds)
    finally:
        if wire is not None:
            wire.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def restart_time(switch: SwitchProcess, load: LoadedState, workdir: Path) -> float:
    """Seconds until a controller started on the saved state has adopted the switch."""
    service, seconds = start_controller(switch, workdir / "state.json", load.config_entries)
    try:
        # Packets of the measurement still queued in the switch may add a few
        # learned flows once the controller listens; the loaded ones must all be there.
        adopted = {key for key, _as in service.dataplane.learner.flows()}
        missing = [key for key in load.flows if key not in adopted]
        if missing:
            raise RuntimeError(f"controller did not adopt {len(missing)} of the "
                               f"{len(load.flows)} loaded flows")
    finally:
        service.close()
    return seconds


def measure(run: BenchRun, plan: DataplanePlan, use_bmv2: bool, workdir: Path,
            progress=print) -> None:
    frames = traffic(plan)
    baseline_name = f"{BMV2_NAME}, lb.p4, same state and frames" if use_bmv2 else REFERENCE_NAME
    if not use_bmv2 and not REFERENCE_JSON.exists():
        raise FileNotFoundError(f"{REFERENCE_JSON} is not built (make p4) and BMv2 is not "
                                "installed: no baseline for the data-plane figure")
    # Before any switch runs: the harness alone.
    ceiling = {size: harness_ceiling(frames[(size, "established")], plan.seconds / 2, workdir)
               for size in plan.frame_sizes}
    results: dict[str, dict[tuple[int, str], RateResult]] = {"ours": {}, "baseline": {}}
    loads = {}
    restart: dict[str, float] = {}
    with ExitStack() as stack:
        wires, switches = {}, {}
        for side, target, program in (
            ("ours", EMBEDDED, LB_JSON),
            ("baseline", BMV2 if use_bmv2 else EMBEDDED, LB_JSON if use_bmv2 else REFERENCE_JSON),
        ):
            switch = stack.enter_context(running_switch(target, program, workdir, True))
            switches[side] = switch
            if program == LB_JSON:
                progress(f"dataplane: loading {plan.size} on {target}")
                loads[side] = load_state(switch, plan.size, workdir / f"{side}-state")
            else:
                start_reference(switch)
            wire = PacketWire(switch.packet_in)
            stack.callback(wire.close)
            wires[side] = wire
        for wire in wires.values():
            measure_rate(wire, CLIENT_PORT, frames[(plan.frame_sizes[0], "established")],
                         plan.warmup_s)
        for case, case_frames in frames.items():
            progress(f"dataplane: {case[0]} B {case[1]} flows")
            for side, wire in wires.items():
                results[side][case] = measure_rate(wire, CLIENT_PORT, case_frames, plan.seconds)
        for side, load in loads.items():
            progress(f"dataplane: controller restart on the loaded {side} switch")
            restart[side] = restart_time(switches[side], load, workdir / f"{side}-state")
    default_level = None
    first = (plan.frame_sizes[0], "established")
    if use_bmv2:
        progress("dataplane: BMv2 at its default log level")
        with running_switch(BMV2, LB_JSON, workdir, True, log_level=None) as switch:
            load_state(switch, plan.size, workdir / "default-level-state")
            wire = PacketWire(switch.packet_in)
            try:
                measure_rate(wire, CLIENT_PORT, frames[first], plan.warmup_s)
                default_level = measure_rate(wire, CLIENT_PORT, frames[first], plan.seconds)
            finally:
                wire.close()
    details = []
    for case in frames:
        ours, base = results["ours"][case], results["baseline"][case]
        lost = ours.lost + base.lost
        run.add(Row(
            "dataplane", f"{case[0]} B frames, {case[1]} flows", "packets/s",
            ours.packets_per_s, base.packets_per_s, baseline_name,
            note=f"{ours.received} and {base.received} packets" + (f", {lost} lost" if lost
                                                                  else ""),
        ))  # fmt: skip
        details.append({"frame_bytes": case[0], "flows": case[1],
                        "ours": vars(ours), "baseline": vars(base)})
    if default_level is not None:
        run.add(Row(
            "dataplane", f"{first[0]} B frames, {first[1]} flows: BMv2 --log-level off vs its "
            "default level", "packets/s", results["baseline"][first].packets_per_s,
            default_level.packets_per_s, f"{BMV2_NAME} at its default log level",
            note="the baseline of the rows above is BMv2 with --log-level off",
        ))  # fmt: skip
    if "ours" in restart:
        load = loads["ours"]
        run.add(Row(
            "dataplane", f"controller restart: ready on {load.config_entries} config entries "
            f"+ {len(load.flows)} flows", "s", restart["ours"], restart.get("baseline"),
            BMV2_NAME if "baseline" in restart else "none: BMv2 not installed",
            higher_is_better=False,
            note="LbService start to switch connected: pipeline kept, every table read back, "
                 "flows adopted, nothing rewritten",
        ))  # fmt: skip
    for size, r in ceiling.items():
        run.add(Row("dataplane", f"{size} B frames, harness ceiling", "packets/s",
                    r.packets_per_s, None, "none (context)",
                    note="a Python peer echoing every frame: figures near it are bound by "
                         "the harness, not the switch"))
    run.details["dataplane"] = {
        "state": vars(plan.size),
        "baseline": baseline_name,
        "state_load_s": {side: s.seconds for side, s in loads.items()},
        "restart_s": restart,
        "state_entries": {side: s.config_entries + len(s.flows) for side, s in loads.items()},
        "cases": details,
        "harness_ceiling": {size: vars(r) for size, r in ceiling.items()},
    }
