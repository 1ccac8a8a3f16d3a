"""Figure 3: P4Runtime programming rate, batched against one entry per request, and
the time from ``lb as ... del`` to the last changed bucket written.

On each switch (ours, and BMv2 when installed) a controller (LbService) is
given one VIP with ``new_len`` 65536 and 100 ASs, then:

* the VIP's buckets are rewritten (MODIFY, same values) as the controller
  writes them: encoded by its codec (controller/p4runtime_codec.py,
  update_bytes) and sent with ``SwitchSession.write`` batched, encoding
  included in the time, the median of rounds alternating the switches
  (both run at once); baseline a sample of them one
  entry per request, beside as many Capabilities requests (the gRPC
  server's own cost), in rounds that alternate the switches;
* ``lb as VIP AS del`` through LbService.execute, which returns once the
  last changed bucket is written; its baseline is the controller writing the
  whole table (the ``lb as`` that filled it), which a controller without
  diffing would do on every change. Also for a VIP of new_len 1024, 10 ASs.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

from bench.bench_results import BenchRun, Row
from bench.lb_state import as_address, vip_address
from bench.switch_pair import BMV2, BMV2_NAME, EMBEDDED, running_switch
from controller.lb_service import LbService
from controller.p4_schema import DecodedEntry
from controller.p4runtime_codec import EntryCodec
from controller.p4runtime_proto import p4runtime_pb2
from controller.switch_session import SwitchAddress, SwitchSession
from tests.integration.lb_fixture import LB_JSON, lb_p4info

MODIFY = p4runtime_pb2.Update.MODIFY


@dataclass(frozen=True)
class ProgrammingPlan:
    buckets: int = 65536
    ases: int = 100
    singles: int = 2048  # entries written one per request (a sample: ~1 ms each)
    small_new_len: int = 1024
    small_ases: int = 10


QUICK_PLAN = ProgrammingPlan(buckets=2048, ases=20, singles=128)
SINGLE_ROUNDS = 8
BATCHED_ROUNDS = 3


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _as_list(v: int, n: int) -> list[str]:
    return [str(as_address(v, k)) for k in range(n)]


def _vip_add_del(service: LbService, v: int, new_len: int, n: int) -> dict:
    """Fills a VIP through the controller, then removes one AS; both timed."""
    vip = f"{vip_address(v)}/32"
    ases = _as_list(v, n)
    service.execute(f"lb vip {vip} encap gre4 new_len {new_len}")
    vip_id = next(x.vip_id for x in service.config.vips() if x.prefix == ip_network(vip))
    fill_s = _timed(service.execute, f"lb as {vip} " + " ".join(ases))
    before = service.dataplane.bucket_owners(vip_id)
    del_s = _timed(service.execute, f"lb as {vip} {ases[n // 2]} del")
    after = service.dataplane.bucket_owners(vip_id)
    changed = sum(1 for a, b in zip(before, after, strict=True) if a != b)
    return {"vip_id": vip_id, "new_len": new_len, "ases": n, "fill_s": fill_s,
            "del_s": del_s, "buckets_changed": changed, "owners": after}


def bucket_entries(vip_id: int, owners: list[int | None]) -> list[DecodedEntry]:
    return [DecodedEntry("maglev", (vip_id, bucket), "use_bucket_as", (as_id,))
            for bucket, as_id in enumerate(owners) if as_id is not None]


@dataclass
class _Rig:
    """One switch with a controller holding a VIP of plan.buckets buckets."""

    service: LbService
    session: SwitchSession
    entries: list[DecodedEntry]  # the VIP's buckets
    updates: list[bytes]  # the same, MODIFY, encoded
    figures: dict


@contextlib.contextmanager
def _rig(target: str, plan: ProgrammingPlan, workdir: Path, progress) -> Iterator[_Rig]:
    with running_switch(target, LB_JSON, workdir) as switch:
        service = LbService(lb_p4info(), LB_JSON.read_bytes(), election_id=1,
                            state_path=workdir / f"programming-{target}.json", housekeeping=False)
        try:
            address = SwitchAddress(switch.grpc_addr, 0)
            session: SwitchSession = service.dataplane.add_switch(address)
            if not session.wait_ready(60):
                raise TimeoutError(f"controller not ready on {switch.grpc_addr}")
            service.execute("lb conf ip4-src-address 192.0.2.1")
            service.execute("ip route add 10.1.0.0/16 via 02:00:00:00:01:01 port 1")
            progress(f"programming: {target}: VIP of {plan.buckets} buckets through the controller")
            big = _vip_add_del(service, 1, plan.buckets, plan.ases)
            small = _vip_add_del(service, 2, plan.small_new_len, plan.small_ases)
            codec = EntryCodec(service.dataplane.schema)
            entries = bucket_entries(big["vip_id"], big.pop("owners"))
            small.pop("owners")
            updates = [codec.update_bytes(MODIFY, e) for e in entries]
            yield _Rig(service, session, entries, updates, {
                "entries": len(entries), "batched_s": [], "big_vip": big, "small_vip": small,
                "singles": 0, "single_s": 0.0, "capabilities": 0, "capabilities_s": 0.0,
            })  # fmt: skip
        finally:
            service.close()


def _batched(rigs: dict[str, _Rig]) -> None:
    """Every bucket rewritten in one write (MODIFY, same values), encoding included,
    by a codec that remembers nothing yet; BATCHED_ROUNDS rounds alternating the
    switches, the median kept."""
    for _ in range(BATCHED_ROUNDS):
        for rig in rigs.values():
            codec = EntryCodec(rig.service.dataplane.schema)
            start = time.perf_counter()
            rig.session.write(codec.update_bytes(MODIFY, e) for e in rig.entries)
            rig.figures["batched_s"].append(time.perf_counter() - start)
    for rig in rigs.values():
        f = rig.figures
        f["batched_per_s"] = f["entries"] / statistics.median(f["batched_s"])


def _one_per_request(rigs: dict[str, _Rig], plan: ProgrammingPlan) -> None:
    """Entries one per request, and Capabilities requests (the gRPC floor: a request
    that asks nothing of the switch), in rounds that alternate the switches, so
    that the machine's drift (here, the same loop varies by 1.5x over minutes)
    weighs on both alike."""
    per_round = max(1, plan.singles // SINGLE_ROUNDS)
    for r in range(SINGLE_ROUNDS):
        for rig in rigs.values():
            f = rig.figures
            block = rig.updates[r * per_round:(r + 1) * per_round]
            start = time.perf_counter()
            for u in block:
                rig.session.write([u])
            f["single_s"] += time.perf_counter() - start
            f["singles"] += len(block)
            start = time.perf_counter()
            for _ in range(per_round):
                rig.session.capabilities()
            f["capabilities_s"] += time.perf_counter() - start
            f["capabilities"] += per_round
    for rig in rigs.values():
        f = rig.figures
        f["single_per_s"] = f["singles"] / f["single_s"]
        f["capabilities_per_s"] = f["capabilities"] / f["capabilities_s"]


def measure(run: BenchRun, plan: ProgrammingPlan, use_bmv2: bool, workdir: Path,
            progress=print) -> None:
    targets = [EMBEDDED, BMV2] if use_bmv2 else [EMBEDDED]
    with contextlib.ExitStack() as stack:
        rigs = {t: stack.enter_context(_rig(t, plan, workdir, progress)) for t in targets}
        progress(f"programming: {plan.buckets} buckets batched, {BATCHED_ROUNDS} rounds on "
                 f"{' and '.join(targets)}, alternating")
        _batched(rigs)
        progress(f"programming: {plan.singles} entries one per request on "
                 f"{' and '.join(targets)}, alternating")
        _one_per_request(rigs, plan)
        results = {t: rig.figures for t, rig in rigs.items()}
    for target, r in results.items():
        where = "embedded switch" if target == EMBEDDED else BMV2_NAME
        run.add(Row(
            "programming", f"batched vs one per request, {r['entries']} buckets, {where}",
            "entries/s", r["batched_per_s"], r["single_per_s"],
            "SwitchSession.write, one entry per request, same switch",
            note=f"{r['singles']} entries one per request; encoding included; batched: median "
                 f"of {BATCHED_ROUNDS} rounds alternating the switches",
        ))  # fmt: skip
        for vip in (r["big_vip"], r["small_vip"]):
            run.add(Row(
                "programming",
                f"lb as del -> last bucket written, new_len {vip['new_len']} "
                f"N={vip['ases']}, {where}", "s", vip["del_s"], vip["fill_s"],
                "the controller writing the whole table (lb as ... filling it)",
                higher_is_better=False,
                note=f"{vip['buckets_changed']} buckets changed"
                     + ("" if vip is r["big_vip"] else f"; the config also holds the "
                        f"{r['big_vip']['new_len']}-bucket VIP, left alone (lb_tables groups)"),
            ))  # fmt: skip
    if use_bmv2:
        ours, bm = results[EMBEDDED], results[BMV2]
        for what, key in (("SwitchSession.write batched", "batched_per_s"),
                          ("one entry per request", "single_per_s")):
            run.add(Row("programming", f"{what}: embedded vs BMv2", "entries/s", ours[key],
                        bm[key], BMV2_NAME))
        run.add(Row(
            "programming", "Capabilities, a request with no work: embedded vs BMv2",
            "requests/s", ours["capabilities_per_s"], bm["capabilities_per_s"], BMV2_NAME,
            note="the gRPC server's own cost per request (grpcio's Python server against "
                 "BMv2's C++ one): the ceiling of one entry per request"))
    run.details["programming"] = results
