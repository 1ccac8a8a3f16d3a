"""bench/maglev.png: Maglev balance and disruption, ours against VPP's scheme (figure 2)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a build machine
import matplotlib.pyplot as plt  # noqa: E402

OURS, VPP = "#1f77b4", "#d62728"


def _grouped_bars(ax, labels: list[str], series: list[tuple[str, list[float], str, str]]) -> None:
    width = 0.8 / len(series)
    for i, (name, values, color, hatch) in enumerate(series):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, values, width, label=name, color=color, hatch=hatch, edgecolor="white")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def write_chart(points: list[dict], path: Path, title_note: str = "") -> None:
    """One PNG with three panels; `points` is run.details["maglev"]."""
    # '*': VPP's N x 100 replicas outnumber the buckets (see the footnote).
    labels = [f"{p['new_len']}/N={p['n']}" + ("*" if p["n"] * 100 > p["new_len"] else "")
              for p in points]
    fig, (load_ax, moved_ax, others_ax) = plt.subplots(1, 3, figsize=(16, 5))

    _grouped_bars(load_ax, labels, [
        ("ours", [p["ours_load"] for p in points], OURS, ""),
        ("VPP replicas", [p["vpp_load"] for p in points], VPP, ""),
    ])
    load_ax.set_yscale("log")
    load_ax.axhline(1.0, color="black", lw=0.8, ls="--")
    load_ax.set_title("balance: max / mean buckets per AS (ideal 1)")
    load_ax.set_xlabel("new_len / number of ASs")

    _grouped_bars(moved_ax, labels, [
        ("ours, removal", [p["ours_remove_total"] / p["remove_ideal"] for p in points], OURS, ""),
        ("VPP, removal", [p["vpp_remove_total"] / p["remove_ideal"] for p in points], VPP, ""),
        ("ours, addition", [p["ours_add_total"] / p["add_ideal"] for p in points], OURS, "//"),
        ("VPP, addition", [p["vpp_add_total"] / p["add_ideal"] for p in points], VPP, "//"),
    ])
    moved_ax.axhline(1.0, color="black", lw=0.8, ls="--")
    moved_ax.set_title("buckets moved / ideal (the changed AS's 1/N share)")
    moved_ax.set_xlabel("new_len / number of ASs")

    _grouped_bars(others_ax, labels, [
        ("ours, removal", [100 * p["ours_remove_others"] for p in points], OURS, ""),
        ("VPP, removal", [100 * p["vpp_remove_others"] for p in points], VPP, ""),
        ("ours, addition", [100 * p["ours_add_others"] for p in points], OURS, "//"),
        ("VPP, addition", [100 * p["vpp_add_others"] for p in points], VPP, "//"),
    ])
    others_ax.set_title("surviving ASs' buckets moved, % (ideal 0)")
    others_ax.set_xlabel("new_len / number of ASs")

    fig.suptitle("Maglev tables: ours vs VPP's 100-replica weights, equal weights"
                 + (f" ({title_note})" if title_note else ""))
    if any(label.endswith("*") for label in labels):
        fig.text(0.01, 0.01, "* VPP's 100 replicas per AS outnumber the buckets: the first "
                 "replicas in address order take every bucket, the other ASs get none, and "
                 "changing one of those moves nothing.", fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)
