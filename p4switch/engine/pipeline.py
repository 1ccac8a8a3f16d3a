"""simple_switch's packet path (targets/simple_switch/simple_switch.cpp), one
packet at a time instead of in threads:

receive -> parser (+ verify checksums) -> ingress -> ingress clone / digest /
resubmit / multicast / unicast or drop -> for each copy: egress -> egress
clone -> drop? -> deparser (+ update checksums) -> recirculate or transmit.

Metadata handling follows simple_switch exactly: clones, resubmitted and
recirculated packets start with all metadata zeroed except the fields of the
field list the program preserved, and ``instance_type`` set; multicast
copies keep the whole header vector and get ``egress_rid``; egress starts
with ``egress_spec`` reset so that only an explicit drop drops.

A packet whose program hits a fault (failed assert, bad stack index) is
dropped and counted; nothing raises out of :meth:`Switching.process`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from p4switch.runtime_api import Digest

from .packet import Packet
from .program import Program
from .replication import Replication
from .v1model import DROP_PORT, EGRESS_CLONE, INGRESS_CLONE, NORMAL, RECIRC, REPLICATION, RESUBMIT

log = logging.getLogger("p4switch.engine")

MAX_PASSES = 256  # ingress+egress passes one received frame may cause (recirculation loops)


class Switching:
    def __init__(self, program: Program, pre: Replication, cpu_port: int | None) -> None:
        self.prog = program
        self.pre = pre
        self.cpu_port = cpu_port
        self.intr = program.intr
        self.t0 = time.monotonic()
        self.t0_ns = int(self.t0 * 1e9)
        # where digests and CPU-bound frames go: an object with on_digest and
        # on_packet_to_cpu attributes (the SwitchRuntime), read when needed
        self.listener: object = self
        self.stats = {
            "received": 0,
            "transmitted": 0,
            "dropped": 0,
            "faults": 0,
            "parser_errors": 0,
        }
        lay = program.layout
        self.metadata_ranges = [(h.base, h.base + h.nslots) for h in lay.headers if h.metadata]
        self.field_lists = program.cx.field_lists
        self.learn_lists = program.cx.learn_lists
        self.no_error = lay.errors["NoError"]
        self._verify = program.checksums.verify if program.checksums.has_verify else None
        self._ingress_run = program.ingress.run
        self._egress_run = program.egress.run
        self._egress_spec = self.intr.egress_spec.slot
        self._instance_type = self.intr.instance_type.slot
        self._mcast_grp = self.intr.mcast_grp.slot if self.intr.mcast_grp else None
        self._priority = self.intr.priority.slot if self.intr.priority else None
        intr = self.intr
        egress_spec_reset = DROP_PORT + 1  # only an explicit drop in egress drops
        deq = None if intr.enq_timestamp is None else f"ts - F[{intr.enq_timestamp.slot}]"
        self._at_receive = self._setter(
            "_at_receive",
            "F, port, length, ts",
            [(intr.ingress_port, "port"), (intr.packet_length, "length"),
             (intr.instance_type, str(NORMAL)), (intr.ingress_global_timestamp, "ts")],
        )  # fmt: skip
        self._after_parse = self._setter(
            "_after_parse",
            "F, error, checksum_error",
            [(intr.parser_error, "error"), (intr.checksum_error, "checksum_error")],
        )
        self._at_enqueue = self._setter(
            "_at_enqueue", "F, ts", [(intr.enq_timestamp, "ts"), (intr.enq_qdepth, "0")]
        )
        self._at_egress = self._setter(
            "_at_egress",
            "F, port, length, ts",
            [(intr.egress_global_timestamp, "ts"), (intr.deq_timedelta, deq),
             (intr.deq_qdepth, "0"), (intr.qid, "0"), (intr.egress_port, "port"),
             (intr.egress_spec, str(egress_spec_reset)), (intr.packet_length, "length")],
        )  # fmt: skip

    def _setter(self, name: str, args: str, fields: list) -> Callable | None:
        """Generate ``name(args)`` writing each (field, value source), masked;
        None when the program has none of the fields."""
        body = [
            f"    F[{f.slot}] = ({src}) & {f.mask:#x}"
            for f, src in fields
            if f is not None and src is not None
        ]
        if not body:
            return None
        fname = self.prog.unit.fresh(name)
        return self.prog.unit.define(fname, f"def {fname}({args}):\n" + "\n".join(body) + "\n")

    # --- helpers --------------------------------------------------------------------
    @staticmethod
    def _set(F: list[int], f, value: int) -> None:
        if f is not None:
            F[f.slot] = value & f.mask

    def _reset_metadata(self, F: list[int]) -> None:
        for a, b in self.metadata_ranges:
            F[a:b] = [0] * (b - a)

    def _preserve(self, dst: Packet, src: Packet, field_list: int) -> None:
        """copy_field_list_and_set_type: metadata of dst cleared, listed fields copied."""
        self._reset_metadata(dst.F)
        for f in self.field_lists.get(field_list, ()):
            dst.F[f.slot] = src.F[f.slot]

    def _fresh(self, frame: bytes) -> Packet:
        F, V, N = self.prog.new_state()
        return Packet(F, V, N, frame)

    # --- the packet path -------------------------------------------------------------
    def process(self, ingress_port: int, frame: bytes) -> list[tuple[int, bytes]]:
        stats = self.stats
        stats["received"] += 1
        prog = self.prog
        F, V, N = prog.blank_F[:], prog.blank_V[:], prog.blank_N[:]
        P = Packet(F, V, N, frame)
        self.ts = ts = (time.monotonic_ns() - self.t0_ns) // 1000
        if self._at_receive is not None:
            self._at_receive(F, ingress_port, len(frame), ts)
        out: list[tuple[int, bytes]] = []
        # simple_switch's queues: egress copies, and packets that re-enter ingress
        # (resubmitted, recirculated); usually one ingress pass makes one copy
        ingress_q: list[Packet] = []
        egress_q: list[Packet] = []
        try:
            self._ingress(P, ingress_q, egress_q, out)
            if len(egress_q) == 1 and not ingress_q:
                P = egress_q.pop()
                self._egress(P, ingress_q, egress_q, out)
        except Exception as e:  # the program faulted: drop this copy, keep switching
            self._fault(e)
        if ingress_q or egress_q:
            self._drain(ingress_q, egress_q, out)
        return out

    def _fault(self, e: Exception) -> None:
        self.stats["faults"] += 1
        self.stats["dropped"] += 1
        log.warning("packet dropped: %s: %s", type(e).__name__, e)

    def _drain(self, ingress_q: list[Packet], egress_q: list[Packet], out: list) -> None:
        """Every copy still queued, egress first, with a bound on the passes a
        single received frame may cause (recirculation loops)."""
        stats = self.stats
        done_in = done_eg = 0
        while done_in < len(ingress_q) or done_eg < len(egress_q):
            if done_in + done_eg >= MAX_PASSES:
                lost = len(ingress_q) - done_in + len(egress_q) - done_eg
                stats["dropped"] += lost
                stats["faults"] += 1
                log.warning("%d packets dropped: more than %d pipeline passes", lost, MAX_PASSES)
                return
            if done_eg < len(egress_q):
                stage, P = self._egress, egress_q[done_eg]
                done_eg += 1
            else:
                stage, P = self._ingress, ingress_q[done_in]
                done_in += 1
            try:
                stage(P, ingress_q, egress_q, out)
            except Exception as e:
                self._fault(e)

    def _ingress(self, P: Packet, ingress_q: list, egress_q: list, out: list) -> None:
        prog, intr = self.prog, self.intr
        F = P.F
        ingress_size = P.length
        prog.parse(P, P.original)
        if self._verify is not None:
            self._verify(P)
        if P.error != self.no_error:
            self.stats["parser_errors"] += 1
        if self._after_parse is not None:
            self._after_parse(F, P.error, 1 if P.checksum_error else 0)
        if self._ingress_run is not None:
            self._ingress_run(P)
        P.exit = False
        egress_spec = F[self._egress_spec]

        if P.clone_session:
            session = P.clone_session & 0x7FFF
            field_list = P.clone_field_list
            P.clone_session = P.clone_field_list = 0
            cfg = self.pre.sessions.get(session)
            if cfg is not None:
                C = self._fresh(P.original)
                C.length = ingress_size
                C.F[intr.ingress_port.slot] = F[intr.ingress_port.slot]
                prog.parse(C, P.original)
                self._preserve(C, P, field_list)
                self._set(C.F, intr.instance_type, INGRESS_CLONE)
                if cfg.truncate:
                    C.truncate = cfg.truncate
                if cfg.mc_group is not None:
                    self._multicast(C, cfg.mc_group, egress_q)
                if cfg.egress_port is not None:
                    self._enqueue(cfg.egress_port, C, egress_q)

        if P.learn:
            self._learn(P)

        if P.resubmit:
            R = self._fresh(P.original)
            self._preserve(R, P, P.resubmit)
            self._set(R.F, intr.instance_type, RESUBMIT)
            R.length = ingress_size
            self._set(R.F, intr.packet_length, ingress_size)
            ingress_q.append(R)
            return

        mgid = F[self._mcast_grp] if self._mcast_grp is not None else 0
        if mgid:
            F[self._instance_type] = REPLICATION
            if not self._multicast(P, mgid, egress_q):
                self.stats["dropped"] += 1  # a group without replicas
            return
        if egress_spec == DROP_PORT:
            self.stats["dropped"] += 1
            return
        F[self._instance_type] = NORMAL
        self._enqueue(egress_spec, P, egress_q)

    def _learn(self, P: Packet) -> None:
        ll = self.learn_lists.get(P.learn)
        P.learn = 0
        on_digest = getattr(self.listener, "on_digest", None)
        if ll is None or on_digest is None:
            return
        name, fields = ll
        try:
            on_digest(Digest(name, [P.F[f.slot] for f in fields]))
        except Exception:  # a listener's bug must not stop the packet path
            log.exception("on_digest callback failed")

    def _multicast(self, P: Packet, group: int, egress_q: list) -> int:
        """Copies of P for each replica of ``group``; returns how many."""
        rid = self.intr.egress_rid
        replicas = self.pre.groups.get(group, ())
        for port, instance in replicas:
            if rid is not None:
                P.F[rid.slot] = instance & rid.mask
            C = P.copy()
            self._enqueue(port, C, egress_q)
        return len(replicas)

    def _enqueue(self, port: int, P: Packet, egress_q: list) -> None:
        P.egress_port = port
        if self._priority is not None and P.F[self._priority] != 0:
            # simple_switch has one queue per port by default; priority >= 1 is out of range
            self.stats["dropped"] += 1
            return
        if self._at_enqueue is not None:
            self._at_enqueue(P.F, self.ts)
        egress_q.append(P)

    def _egress(self, P: Packet, ingress_q: list, egress_q: list, out: list) -> None:
        prog, intr = self.prog, self.intr
        F = P.F
        if self._at_egress is not None:
            self._at_egress(F, P.egress_port, P.length, self.ts)
        if self._egress_run is not None:
            self._egress_run(P)

        if P.clone_session:
            session = P.clone_session & 0x7FFF
            field_list = P.clone_field_list
            P.clone_session = P.clone_field_list = 0
            cfg = self.pre.sessions.get(session)
            if cfg is not None:
                C = P.copy()
                self._preserve(C, P, field_list)
                self._set(C.F, intr.instance_type, EGRESS_CLONE)
                C.length = P.length
                if cfg.truncate:
                    C.truncate = cfg.truncate
                if cfg.mc_group is not None:
                    self._multicast(C, cfg.mc_group, egress_q)
                if cfg.egress_port is not None:
                    self._enqueue(cfg.egress_port, C, egress_q)

        if F[self._egress_spec] == DROP_PORT:
            self.stats["dropped"] += 1
            return
        frame = prog.deparse(P)
        if P.truncate is not None:
            frame = frame[: P.truncate]

        if P.recirculate:
            R = self._fresh(frame)
            self._preserve(R, P, P.recirculate)
            self._set(R.F, intr.instance_type, RECIRC)
            self._set(R.F, intr.packet_length, len(frame))
            ingress_q.append(R)
            return

        port = P.egress_port
        self.stats["transmitted"] += 1
        if self.cpu_port is not None and port == self.cpu_port:
            to_cpu = getattr(self.listener, "on_packet_to_cpu", None)
            if to_cpu is not None:
                try:
                    to_cpu(frame)
                except Exception:
                    log.exception("on_packet_to_cpu callback failed")
            return
        out.append((port, frame))
