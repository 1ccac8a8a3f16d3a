"""Figure 4: flow tracking, learned and aged per second, and memory per tracked flow.

Learning: a controller (LbService, digests configured) drives a switch with 10
VIPs of 10 ASs (2 in quick mode); a burst of new-flow packets goes through the packet port and
the clock runs from the first packet until the learner has installed an
entry for every one of them (digest -> FlowLearner -> flow4 write). Baseline:
FlowLearner.install of as many flows in one call, the same writes without
digests.

Young flows: flows of 3 packets each, back to back, as a TCP handshake is,
sent with lb.p4's pending-flow table on (``lb conf pending-timeout 2000``)
and off (``pending-timeout 0``, the data plane before it): digests per flow
(the VIP's "first session packet" counter over the flows) and flows learned
per second, side by side.

Ageing: with ``lb conf timeout 1``, 1k and then 10k flows are installed at
once; the clock runs from the moment all of them are idle for 1 s until the
learner has seen every idle-timeout notification and deleted the entries
(or gives up after ``wait_s``: the rate is then of those aged). It includes
the switch's idle sweep period (about 1 s on BMv2 and ours). Baseline:
deleting the learned burst at once (the path of ``lb as ... del flush``).

Memory: RSS delta of a fresh switch process after N flow4 entries are
written (encoded as the controller does), at N = 100k and 1M, ours
against BMv2; and of the controller per flow (bench/controller_memory.py,
in a child process), against the switch's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bench_results import BenchRun, Row
from bench.lb_state import (
    CLIENT_PORT,
    TCP_PROTOCOL,
    VIP_PORT,
    LbStateSize,
    client_flow,
    config_lines,
    flow_entry,
    flow_frame,
    primary_session,
    vip_address,
    write_entries,
)
from bench.packet_rate import measure_rate
from bench.switch_pair import BMV2, BMV2_NAME, EMBEDDED, rss_bytes, running_switch
from controller.flow_learner import FlowKey
from controller.lb_service import LbService
from controller.switch_session import SwitchAddress
from tests.integration.lb_fixture import LB_JSON, PacketWire, lb_p4info

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FlowPlan:
    burst: int = 10_000  # new flows learned
    young: int = 2_000  # flows of YOUNG_PACKETS packets, pending table on and off
    ageing: tuple[int, ...] = (1_000, 10_000)  # flows idle at once, smallest first
    memory_flows: tuple[int, ...] = (100_000, 1_000_000)
    controller_memory_flows: tuple[int, ...] = (100_000, 1_000_000)
    wait_s: float = 60.0  # give up waiting for learning/ageing after this (rate of those done)
    rig: LbStateSize = LbStateSize(vips=10, ases_per_vip=10, new_len=1024, flows=0)


YOUNG_PACKETS = 3

QUICK_PLAN = FlowPlan(burst=1000, young=300, ageing=(1000,), memory_flows=(5_000,),
                      controller_memory_flows=(5_000,),
                      wait_s=30.0, rig=LbStateSize(vips=2, ases_per_vip=10, new_len=1024, flows=0))


def _wait(predicate, timeout: float) -> float | None:
    """perf_counter() when predicate() first held, or None after timeout."""
    deadline = time.perf_counter() + timeout
    while True:
        if predicate():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            return None
        time.sleep(0.005)


def _vip_ids(service: LbService) -> dict[int, int]:
    """VIP number v (bench.lb_state addressing) -> vip_id."""
    return {
        int(v.prefix.network_address) - int(vip_address(0)): v.vip_id
        for v in service.config.vips()
    }


def _synthetic_flows(service: LbService, first: int, count: int) -> dict[FlowKey, int]:
    """Flows no packet created (client numbers from `first`), pinned to a live AS of their VIP."""
    vips = _vip_ids(service)
    out = {}
    for i in range(first, first + count):
        v = 1 + i % len(vips)
        vip = service.config.vip_by_id(vips[v])
        ases = vip.sorted_ases()
        src, sport = client_flow(i, new=True)
        key = FlowKey(4, vips[v], int(src), int(vip_address(v)), TCP_PROTOCOL, sport, VIP_PORT)
        out[key] = ases[i % len(ases)].as_id
    return out


def _first_session_packets(service: LbService) -> int:
    vip_ids = [v.vip_id for v in service.config.vips()]
    cells = service.dataplane.read_counters({"vip_first_session": vip_ids})["vip_first_session"]
    return sum(p for _b, p in cells.values())


def young_flows(service: LbService, wire: PacketWire, plan: FlowPlan, first: int,
                pending_ms: int) -> dict:
    """`plan.young` flows of YOUNG_PACKETS packets each, with the given pending lifetime."""
    service.execute(f"lb conf pending-timeout {pending_ms}")
    learner = service.dataplane.learner
    frames = [flow_frame(i, plan.rig.vips, 64, new=True)
              for i in range(first, first + plan.young) for _ in range(YOUNG_PACKETS)]
    learned0, digests0 = learner.learned, _first_session_packets(service)
    start = time.perf_counter()
    # A flow's packets in flight together, before its first one is even out.
    measure_rate(wire, CLIENT_PORT, frames, count=len(frames), window=YOUNG_PACKETS)
    done = _wait(lambda: learner.learned - learned0 >= plan.young, plan.wait_s)
    learned = learner.learned - learned0
    learn_s = (done or time.perf_counter()) - start
    digests = _first_session_packets(service) - digests0
    return {"flows": plan.young, "pending_ms": pending_ms, "learned": learned,
            "learned_per_s": learned / learn_s, "digests": digests,
            "digests_per_flow": digests / plan.young}


def learning_and_ageing(target: str, plan: FlowPlan, workdir: Path, progress=print) -> dict:
    burst = plan.burst
    frames = [flow_frame(i, plan.rig.vips, 64, new=True) for i in range(burst)]
    with running_switch(target, LB_JSON, workdir, packet_port=True) as switch:
        service = LbService(lb_p4info(), LB_JSON.read_bytes(), election_id=1,
                            state_path=workdir / f"flows-{target}.json", housekeeping=False)
        wire = None
        try:
            session = service.dataplane.add_switch(SwitchAddress(switch.grpc_addr, 0))
            if not session.wait_ready(60):
                raise TimeoutError(f"controller not ready on {switch.grpc_addr}")
            for line in config_lines(plan.rig):
                service.execute(line)
            learner = service.dataplane.learner
            wire = PacketWire(switch.packet_in)

            progress(f"flows: {target}: burst of {burst} new flows")
            learned0 = learner.learned
            start = time.perf_counter()
            sent = measure_rate(wire, CLIENT_PORT, frames, count=burst)
            through = time.perf_counter()
            done = _wait(lambda: learner.learned - learned0 >= burst, plan.wait_s)
            learned = learner.learned - learned0
            learn_s = (done or time.perf_counter()) - start

            young = {}
            for n, pending_ms in enumerate((2000, 0)):
                progress(f"flows: {target}: {plan.young} flows of {YOUNG_PACKETS} packets, "
                         f"pending-timeout {pending_ms}")
                young[pending_ms] = young_flows(service, wire, plan, (4 + n) << 20, pending_ms)
            service.execute("lb conf pending-timeout 2000")

            direct = _synthetic_flows(service, 1 << 20, burst)
            t0 = time.perf_counter()
            learner.install(direct)
            install_s = time.perf_counter() - t0

            doomed = set(direct)
            t0 = time.perf_counter()
            flushed = learner.flush(lambda key, _as: key in doomed)
            flush_s = time.perf_counter() - t0

            service.execute("lb conf timeout 1")
            ageing = {}
            for n, count in enumerate(plan.ageing):
                progress(f"flows: {target}: {count} flows ageing with timeout 1 s")
                flows = _synthetic_flows(service, (2 + n) << 20, count)
                aged0 = learner.aged
                learner.install(flows)
                idle_from = time.perf_counter() + 1.0  # every one of them idle for the timeout
                gone = _wait(lambda c=count, a=aged0: learner.aged - a >= c, plan.wait_s)
                aged = learner.aged - aged0
                age_s = (gone or time.perf_counter()) - idle_from
                ageing[count] = {"aged": aged, "age_s": age_s,
                                 "aged_per_s": aged / age_s if age_s > 0 else None}
        finally:
            if wire is not None:
                wire.close()
            service.close()
    return {
        "burst": burst, "packets_out": sent.received, "packets_s": through - start,
        "learned": learned, "learn_s": learn_s, "learned_per_s": learned / learn_s,
        "direct_install_s": install_s, "direct_install_per_s": burst / install_s,
        "young": young, "ageing": ageing,
        "flushed": flushed, "flush_s": flush_s, "flush_per_s": flushed / flush_s,
    }  # fmt: skip


def switch_memory(target: str, counts: tuple[int, ...], workdir: Path, progress=print) -> dict:
    """RSS delta per flow entry of a fresh switch, at each cumulative count."""
    out = {}
    with running_switch(target, LB_JSON, workdir) as switch:
        session = primary_session(switch)
        try:
            time.sleep(0.5)
            before = rss_bytes(switch.proc.pid)
            written = 0
            for count in counts:
                progress(f"flows: {target}: memory with {count} flow entries")
                keys = {}
                for i in range(written, count):
                    src, sport = client_flow(i, new=False)
                    keys[FlowKey(4, 1 + i % 100, int(src), 0x0A000001 + i % 100, TCP_PROTOCOL,
                                 sport, VIP_PORT)] = 1 + i % 1000
                entries = [flow_entry(k, a) for k, a in keys.items()]
                del keys
                write_s = write_entries(session, entries, idle_timeout_ns=3600 * 10**9)
                written = count
                time.sleep(0.5)
                delta = rss_bytes(switch.proc.pid) - before
                out[count] = {"rss_delta": delta, "bytes_per_flow": delta / count,
                              "write_s": write_s}
        finally:
            session.stop()
    return out


def controller_memory(count: int, timeout: float) -> dict:
    """bench.controller_memory in a child process (stopped by PID if it overruns)."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.controller_memory", str(count)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.controller_memory {count} exited with {proc.returncode}")
    return json.loads(out)


def measure(run: BenchRun, plan: FlowPlan, use_bmv2: bool, workdir: Path,
            progress=print) -> None:
    targets = [EMBEDDED, BMV2] if use_bmv2 else [EMBEDDED]
    tracking = {t: learning_and_ageing(t, plan, workdir, progress) for t in targets}
    memory = {t: switch_memory(t, plan.memory_flows, workdir, progress) for t in targets}
    controller = {}
    for count in plan.controller_memory_flows:
        progress(f"flows: controller memory with {count} flows")
        controller[count] = controller_memory(count, timeout=3000)

    for t in targets:
        r = tracking[t]
        where = "embedded switch" if t == EMBEDDED else BMV2_NAME
        note = "" if r["learned"] == r["burst"] else f"only {r['learned']} learned in time; "
        run.add(Row("flows", f"learned/s, burst of {r['burst']} new flows, {where}", "flows/s",
                    r["learned_per_s"], r["direct_install_per_s"],
                    "FlowLearner.install of as many flows in one call (no digests)",
                    note=note + f"packets through in {r['packets_s']:.2f} s, "
                                f"all learned {r['learn_s']:.2f} s after the first"))
        on, off = r["young"][2000], r["young"][0]
        run.add(Row("flows", f"digests per flow, {on['flows']} flows of {YOUNG_PACKETS} "
                             f"packets, {where}", "digests/flow", on["digests_per_flow"],
                    off["digests_per_flow"], "the same with the pending table off "
                    "(pending-timeout 0)", higher_is_better=False,
                    note=f"{on['learned']} / {off['learned']} learned"))
        run.add(Row("flows", f"learned/s, {on['flows']} flows of {YOUNG_PACKETS} packets, "
                             f"{where}", "flows/s", on["learned_per_s"], off["learned_per_s"],
                    "the same with the pending table off (pending-timeout 0)"))
        for count, a in r["ageing"].items():
            done = (f"all gone {a['age_s']:.2f} s after they were idle 1 s" if a["aged"] == count
                    else f"only {a['aged']} aged {a['age_s']:.0f} s after they were idle 1 s")
            run.add(Row("flows", f"aged/s, {count} flows idle at once, {where}", "flows/s",
                        a["aged_per_s"], r["flush_per_s"],
                        f"deleting {r['flushed']} flows at once (the del flush path)",
                        note=done + " (includes the ~1 s idle sweep)"))
    if use_bmv2:
        ours, bm = tracking[EMBEDDED], tracking[BMV2]
        run.add(Row("flows", "learned/s: embedded vs BMv2", "flows/s", ours["learned_per_s"],
                    bm["learned_per_s"], f"{BMV2_NAME}, same controller"))
        for count in plan.ageing:
            run.add(Row("flows", f"aged/s, {count} idle flows: embedded vs BMv2", "flows/s",
                        ours["ageing"][count]["aged_per_s"], bm["ageing"][count]["aged_per_s"],
                        f"{BMV2_NAME}, same controller"))
    for count in plan.memory_flows:
        ours = memory[EMBEDDED][count]["bytes_per_flow"]
        base = memory[BMV2][count]["bytes_per_flow"] if use_bmv2 else None
        run.add(Row("flows", f"switch memory per flow at {count:,} flows", "bytes",
                    ours, base, BMV2_NAME if use_bmv2 else "none: BMv2 not installed",
                    higher_is_better=False, note="RSS delta of the switch process"))
    for count, c in controller.items():
        switch_side = memory[EMBEDDED].get(count, {}).get("bytes_per_flow")
        run.add(Row("flows", f"controller memory per flow at {count:,} flows", "bytes",
                    c["bytes_per_flow"], switch_side,
                    "the embedded switch's, same number of flows" if switch_side
                    else "none: the switch was not measured at this count",
                    higher_is_better=False,
                    note="RSS delta of FlowLearner records; installing took "
                         f"{c['install_s']:.0f} s"))
    run.details["flows"] = {"tracking": tracking, "switch_memory": memory,
                            "controller_memory": controller}
