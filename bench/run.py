"""``make bench``: every performance figure, each against a baseline measured in the same run.

    python -m bench.run [--quick] [--compare OLD.json] [--out PATH] [--chart PATH]

Figures (one module each): 1 data plane packets/s (dataplane_figures),
2 Maglev tables (maglev_figures), 3 P4Runtime programming
(programming_figures), 4 flow tracking (flow_figures). The baseline of the
switch figures is BMv2 ``simple_switch_grpc`` when it is on PATH; without it
each figure names the baseline that stands in.

Modes: the default is ``make bench``, every figure at the sizes issue 7
asks for (up to 1M tracked flows), under 10 minutes on 2 cores; ``--quick``
shrinks every figure to run in under a minute (its results go to
bench/results-quick.json unless --out says otherwise).

Prints a table, writes the results as JSON and the Maglev chart as PNG.
``--compare OLD.json`` also prints the old figures beside the new ones. A
section that fails is reported and the run exits 1, after the others ran.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import dataplane_figures, flow_figures, maglev_figures, programming_figures
from bench.bench_results import (
    BenchRun,
    ResultsFileError,
    load_rows,
    render_comparison,
    render_table,
)
from bench.maglev_chart import write_chart
from bench.switch_pair import bmv2_build, bmv2_installed, describe_bmv2_build
from tests.integration.lb_fixture import LB_JSON

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

PLANS = {
    "quick": {
        "maglev": maglev_figures.QUICK_PLAN,
        "dataplane": dataplane_figures.QUICK_PLAN,
        "programming": programming_figures.QUICK_PLAN,
        "flows": flow_figures.QUICK_PLAN,
    },
    "default": {
        "maglev": maglev_figures.MaglevPlan(),
        "dataplane": dataplane_figures.DataplanePlan(),
        "programming": programming_figures.ProgrammingPlan(),
        "flows": flow_figures.FlowPlan(),
    },
}
SECTIONS = ("maglev", "dataplane", "programming", "flows")


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return out.stdout.strip() or None


def _bmv2_version() -> str | None:
    exe = shutil.which("simple_switch_grpc")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return exe
    return f"{exe} {out.stdout.strip() or out.stderr.strip()}".strip()


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every figure, small (< 1 minute)")
    ap.add_argument("--compare", type=Path, metavar="OLD.json",
                    help="print an earlier run's figures beside this run's")
    ap.add_argument("--out", type=Path, help="results JSON (default bench/results.json, "
                                             "bench/results-quick.json with --quick)")
    ap.add_argument("--chart", type=Path, help="Maglev PNG (default bench/maglev.png, "
                                               "bench/maglev-quick.png with --quick)")
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only this figure (repeatable)")
    args = ap.parse_args(argv)
    args.mode = "quick" if args.quick else "default"
    suffix = "-quick" if args.quick else ""
    args.out = args.out or BENCH / f"results{suffix}.json"
    args.chart = args.chart or BENCH / f"maglev{suffix}.png"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    old = None
    if args.compare is not None:
        try:
            old = load_rows(args.compare)  # before --out may overwrite the same file
        except ResultsFileError as e:
            print(f"bench: --compare: {e}", file=sys.stderr)
            return 2
    if not LB_JSON.exists():
        print(f"bench: {LB_JSON} is missing (make p4)", file=sys.stderr)
        return 2
    use_bmv2 = bmv2_installed()
    plans = PLANS[args.mode]
    started = time.time()
    run = BenchRun(meta={
        "mode": args.mode,
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(), "commit": _git_commit(),
        "bmv2": _bmv2_version(), "bmv2_build": bmv2_build(),
        "plans": {name: repr(plan) for name, plan in plans.items()},
        "section_s": {}, "errors": {},
    })  # fmt: skip
    _progress(f"{args.mode} run; switch baseline: "
              + ("BMv2 simple_switch_grpc" if use_bmv2 else "BMv2 not installed, stand-ins"))
    _progress(f"BMv2 build: {describe_bmv2_build(run.meta['bmv2_build'])}")
    with tempfile.TemporaryDirectory(prefix="p4lb-bench-") as tmp:
        for section in args.only or SECTIONS:
            t0 = time.perf_counter()
            try:
                if section == "maglev":
                    maglev_figures.measure(run, plans["maglev"], progress=_progress)
                else:
                    module = {"dataplane": dataplane_figures,
                              "programming": programming_figures, "flows": flow_figures}[section]
                    module.measure(run, plans[section], use_bmv2, Path(tmp) / section,
                                   progress=_progress)
            except Exception as e:  # noqa: BLE001 - one failed figure must not hide the others
                run.meta["errors"][section] = f"{type(e).__name__}: {e}"
                traceback.print_exc()
            run.meta["section_s"][section] = round(time.perf_counter() - t0, 1)
            _progress(f"{section} done in {run.meta['section_s'][section]} s")
    run.meta["finished"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    run.meta["duration_s"] = round(time.time() - started, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(run.to_json() + "\n")
    if "maglev" in run.details:
        write_chart(run.details["maglev"], args.chart, f"{args.mode} run")
    print(f"p4lb bench, {args.mode} mode, {run.meta['duration_s']} s on {run.meta['cpus']} CPUs "
          f"(load average at start {run.meta['load_average_at_start'][0]:.1f}); switch baseline: "
          + (run.meta["bmv2"] or "BMv2 not installed (stand-ins named per row)"))
    print(f"BMv2 build: {describe_bmv2_build(run.meta['bmv2_build'])}")
    print(render_table(run))
    if old is not None:
        print(render_comparison(old[0], old[1], run))
    print(f"results: {args.out}" + (f", chart: {args.chart}" if "maglev" in run.details else ""))
    for section, error in run.meta["errors"].items():
        print(f"bench: {section} failed: {error}", file=sys.stderr)
    return 1 if run.meta["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
