"""Figure 2: Maglev table build time, balance and disruption, ours against VPP's scheme.

The measurements themselves are maglev_table_bench's (one definition of "moved");
this module runs them over the grid new_len x N and turns them into rows:

* build time of one table (best of a few), ours and the VPP replica scheme;
* max/mean buckets per AS (1.0 is a perfect balance);
* on one removal and one addition: the fraction of the table that changed
  owner against the ideal (only the buckets of the AS that left or came:
  its own share), and the fraction of the *surviving* ASs' buckets that moved
  (ideally 0).

Equal weights throughout, so VPP's scheme is 100 replicas per AS. Where
N x 100 replicas outnumber the buckets, that scheme fills the table with the
first replicas in address order: the ASs after them get nothing (see its
max/mean load) and a change to one of those moves nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.bench_results import BenchRun, Row
from bench.maglev_table_bench import (
    addition_moves,
    build_time,
    load_spread,
    removal_moves,
)
from controller.maglev_table import maglev_table, vpp_weighted_table

SCHEMES = {"ours": maglev_table, "vpp": vpp_weighted_table}
BASELINE = "VPP replica scheme (100 replicas per AS), same run"


@dataclass(frozen=True)
class MaglevPlan:
    grid: tuple[tuple[int, int], ...] = tuple(  # (new_len, N) points
        (size, n) for size in (1024, 65536) for n in (10, 100, 1000))
    build_repeats: int = 3
    small_trials: int = 20  # removals/additions per point at new_len 1024
    large_trials: int = 3  # at new_len 65536 (each build costs ~0.3 s)

    def trials(self, size: int, n: int) -> int:
        trials = self.small_trials if size <= 4096 else self.large_trials
        # VPP's scheme at N=1000 builds 100k replicas per table: fewer trials.
        return max(1, trials // 4) if n >= 1000 else trials


# A 65536-bucket point costs ~5 s of builds; quick keeps one of them.
QUICK_PLAN = MaglevPlan(grid=((1024, 10), (1024, 100), (1024, 1000), (65536, 100)),
                        build_repeats=1, small_trials=3, large_trials=1)


def change_point(size: int, n: int, trials: int) -> dict:
    """Removal and addition figures of both schemes at one (new_len, N)."""
    # Ideal: exactly the changed AS's fair share changes owner.
    point: dict = {"new_len": size, "n": n, "trials": trials,
                   "remove_ideal": 1 / n, "add_ideal": 1 / (n + 1)}
    for name, builder in SCHEMES.items():
        own, others, worst = removal_moves(builder, n, size, trials)
        point[f"{name}_remove_total"] = (own + others * (size - own)) / size
        point[f"{name}_remove_others"] = others
        point[f"{name}_remove_others_worst"] = worst
        own, others, worst = addition_moves(builder, n, size, trials)
        point[f"{name}_add_total"] = (own + others * (size - own)) / size
        point[f"{name}_add_others"] = others
        point[f"{name}_add_others_worst"] = worst
        point[f"{name}_load"] = load_spread(builder, n, size, trials)
    return point


def measure(run: BenchRun, plan: MaglevPlan, progress=print) -> None:
    points = []
    for size, n in plan.grid:
        progress(f"maglev: new_len {size}, N {n}")
        point = change_point(size, n, plan.trials(size, n))
        for name, builder in SCHEMES.items():
            point[f"{name}_build_s"] = build_time(builder, n, size, False, plan.build_repeats)
        points.append(point)
        where = f"new_len {size}, N {n}"
        crowded = ("; VPP: N x 100 replicas > new_len, the first ones take every bucket"
                   if n * 100 > size else "")
        run.add(Row("maglev", f"build, {where}", "ms", 1000 * point["ours_build_s"],
                    1000 * point["vpp_build_s"], BASELINE, higher_is_better=False,
                    note=f"best of {plan.build_repeats}"))
        run.add(Row("maglev", f"max/mean load, {where}", "ratio", point["ours_load"],
                    point["vpp_load"], BASELINE, higher_is_better=False,
                    note="ideal 1.0" + crowded))
        for change, verb in (("remove", "removal"), ("add", "addition")):
            run.add(Row(
                "maglev", f"{verb}: table moved / ideal, {where}", "ratio",
                point[f"ours_{change}_total"] / point[f"{change}_ideal"],
                point[f"vpp_{change}_total"] / point[f"{change}_ideal"],
                BASELINE, higher_is_better=False,
                note=f"ideal 1.0 = the changed AS's fair share 1/N; {point['trials']} trials"
                     + crowded,
            ))
            run.add(Row(
                "maglev", f"{verb}: surviving ASs' buckets moved, {where}", "fraction",
                point[f"ours_{change}_others"], point[f"vpp_{change}_others"],
                BASELINE, higher_is_better=False,
                note=f"ideal 0; worst ours {point[f'ours_{change}_others_worst']:.2%}, "
                     f"vpp {point[f'vpp_{change}_others_worst']:.2%}",
            ))
    run.details["maglev"] = points
