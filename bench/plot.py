#!/usr/bin/python3
"""Draws the benchmark plots under docs/ from bench/results/*.jsonl (written by bench/compare).

For each (workload, phase, server) it uses the latest compare run that measured it, and the
median of that run's rounds. Plots:
  docs/bench-broadcast-throughput.png   delivered msgs/s against clients (back to back), per server
  docs/bench-broadcast-cdf-<phase>.png  latency CDF of one broadcast phase (default 10x10)
  docs/bench-broadcast-openloop.png     p99 latency against offered rate (open-loop runs)
  docs/bench-echo-cdf.png               W1 round-trip CDF, with the TCP floor
usage: bench/plot.py (Debian python3: matplotlib comes from apt)
       [--results bench/results] [--out docs] [--cdf-phase 10x10]
Needs matplotlib (Debian: apt-get install python3-matplotlib).
"""
import argparse
import glob
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ["partyd", "partykit", "node-ws", "floor", "tcp"]
STYLE = {
    "partyd": dict(color="#d62728", marker="o"),
    "partykit": dict(color="#1f77b4", marker="s"),
    "node-ws": dict(color="#2ca02c", marker="^"),
    "floor": dict(color="#7f7f7f", marker="x", linestyle="--"),
    "tcp": dict(color="#000000", marker="+", linestyle=":"),
}


def load(results_dir):
    lines = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.jsonl"))):
        with open(path) as f:
            for text in f:
                text = text.strip()
                if not text:
                    continue
                line = json.loads(text)
                if "error" not in line and "server" in line:
                    lines.append(line)
    return lines


def latest(lines):
    """Keeps, for each (workload, phase, server), the lines of the latest run that has it."""
    newest = {}
    for line in lines:
        key = (line["workload"], line["phase"], line["server"])
        newest[key] = max(newest.get(key, ""), line["run"])
    return [l for l in lines if l["run"] == newest[(l["workload"], l["phase"], l["server"])]]


def by_server(lines):
    groups = {}
    for line in lines:
        groups.setdefault(line["server"], []).append(line)
    return sorted(groups.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else 99)


def median_line(lines, key):
    """The line whose `key` is the median one (so that its CDF is a real measured run)."""
    ranked = sorted(lines, key=lambda l: l.get(key, 0))
    return ranked[(len(ranked) - 1) // 2]


def label(server, lines):
    what = lines[0].get("server_what", server)
    return f"{server} ({what.split(' (')[0]})" if server != "tcp" else "TCP floor"


def footer(fig, lines):
    m = lines[0].get("machine", {})
    pins = {l.get("pin", "?") for l in lines}
    fig.text(0.01, 0.01, f"{m.get('nproc', '?')} CPUs {m.get('cpu', '?')}, Linux {m.get('kernel', '?')}, "
             f"git {m.get('git', '?')}, pinning {'/'.join(sorted(pins))}, run {lines[0]['run'][:16]}",
             fontsize=7, color="#555555")


def plot_throughput(lines, out):
    rows = [l for l in lines if l["workload"] == "broadcast" and l.get("mode") == "back-to-back"]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for server, mine in by_server(rows):
        phases = {}
        for l in mine:
            phases.setdefault(l["phase"], []).append(l)
        points = sorted((ls[0]["rooms"] * ls[0]["clients"], statistics.median(x["msgs_per_s"] for x in ls),
                         ls[0]["phase"]) for ls in phases.values())
        ax.plot([p[0] for p in points], [p[1] for p in points], label=label(server, mine), **STYLE.get(server, {}))
        for x, y, phase in points:
            ax.annotate(phase, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("clients in total (rooms × clients per room)")
    ax.set_ylabel("delivered messages/s (median of rounds)")
    ax.set_title("W3 broadcast, back to back")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    footer(fig, rows)
    path = os.path.join(out, "bench-broadcast-throughput.png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_cdf(rows, title, path, key="p50_us"):
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for server, mine in by_server(rows):
        line = median_line(mine, key)
        cdf = line["cdf_us"]
        ax.plot([max(p[1], 0.1) for p in cdf], [p[0] for p in cdf], label=label(server, mine),
                **STYLE.get(server, {}))
    ax.set_xscale("log")
    ax.set_xlabel("latency (µs, log scale)")
    ax.set_ylabel("percentile")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    footer(fig, rows)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_openloop(lines, out):
    rows = [l for l in lines if l["workload"] == "broadcast" and l.get("mode") == "open-loop"]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for server, mine in by_server(rows):
        rates = {}
        for l in mine:
            rates.setdefault(l["rate_per_room"] * l["rooms"] * l["clients"], []).append(l["p99_us"])
        points = sorted((r, statistics.median(v)) for r, v in rates.items())
        ax.plot([p[0] for p in points], [p[1] / 1000 for p in points], label=label(server, mine),
                **STYLE.get(server, {}))
    ax.axhline(50, color="#999999", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered deliveries/s")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_title("W3 broadcast, open loop: p99 against load (line: 50 ms)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    footer(fig, rows)
    path = os.path.join(out, "bench-broadcast-openloop.png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=os.path.join(ROOT, "bench/results"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"))
    parser.add_argument("--cdf-phase", default="10x10")
    args = parser.parse_args()
    lines = latest(load(args.results))
    if not lines:
        sys.exit(f"plot: no results in {args.results}")
    os.makedirs(args.out, exist_ok=True)
    made = [
        plot_throughput(lines, args.out),
        plot_cdf([l for l in lines if l["workload"] == "broadcast" and l["phase"] == args.cdf_phase],
                 f"W3 broadcast {args.cdf_phase}: send → receipt latency CDF",
                 os.path.join(args.out, f"bench-broadcast-cdf-{args.cdf_phase}.png")),
        plot_openloop(lines, args.out),
        plot_cdf([l for l in lines if l["workload"] == "echo"], "W1 echo: round-trip latency CDF",
                 os.path.join(args.out, "bench-echo-cdf.png")),
    ]
    for path in made:
        if path:
            print(os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
