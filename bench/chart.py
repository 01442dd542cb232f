#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Draw the benchmark chart: stop latency and queue throughput against the peers.

    python3 bench/chart.py RESULTS... docs/benchmarks.svg

Reads the RESULT lines of one or more `make bench` runs (each file one run,
as bench/table.py takes them) and writes one SVG with a horizontal bar chart
per scenario (grace highlighted): each bar is the median of a peer's runs,
and, given several runs, a thin line across its end spans their min-max.
Stop latencies use a logarithmic axis, since the polling peers are a
thousand times slower. Plain Python, no plotting package, so a fresh
machine draws it too.
"""
import math
import sys
from xml.sax.saxutils import escape

PANELS = [
    ("stop_all_64", "Stop → 64 threads blocked in an event wait returned (µs, log scale, lower is better)", True),
    ("queue_stop_64", "Stop → 64 threads blocked in a queue get returned (µs, log scale, lower is better)", True),
    ("stop_64_blocked", "Stop → 64 threads blocked in recv returned (µs, log scale, lower is better)", True),
    ("queue_1p1c", "Queue throughput, 1 producer / 1 consumer (M items/s, higher is better)", False),
    ("queue_2p2c", "Queue throughput, 2 producers / 2 consumers (M items/s, higher is better)", False),
]

WIDTH = 860
LABEL_W = 190
BAR_H = 16
GAP = 4
TITLE_H = 26
PANEL_GAP = 22


def read(paths):
    """{scenario: {peer: [value per run]}} over every file."""
    data = {}
    for path in paths:
        for line in open(path, encoding="utf-8"):
            f = line.split()
            if len(f) == 6 and f[0] == "RESULT":
                try:
                    data.setdefault(f[1], {}).setdefault(f[2], []).append(float(f[3]))
                except ValueError:
                    pass
    return data


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def fmt(v):
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def panel(out, y, title, rows, log):
    """rows: (name, [values]) sorted best first."""
    out.append(f'<text x="10" y="{y + 16}" font-size="13" font-weight="bold">{escape(title)}</text>')
    y += TITLE_H
    plot_w = WIDTH - LABEL_W - 90
    hi = max(max(v) for _, v in rows)
    lo = min(min(v) for _, v in rows)
    if log:
        base = 10 ** math.floor(math.log10(max(lo, 1e-9)))
        span = math.log10(hi * 1.2) - math.log10(base)

        def scale(v):
            return plot_w * (math.log10(max(v, base)) - math.log10(base)) / span
    else:
        def scale(v):
            return plot_w * v / (hi * 1.05)
    for name, values in rows:
        v = median(values)
        w = max(scale(v), 1.0)
        colour = "#1f77b4" if name.startswith("grace") and name == "grace" else (
            "#6baed6" if name.startswith("grace") else "#bbbbbb")
        out.append(f'<text x="{LABEL_W - 8}" y="{y + BAR_H - 4}" font-size="12" text-anchor="end">{escape(name)}</text>')
        out.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{colour}"/>')
        end = w
        if len(values) > 1:
            x0, x1 = LABEL_W + max(scale(min(values)), 1.0), LABEL_W + max(scale(max(values)), 1.0)
            mid = y + BAR_H / 2
            out.append(f'<line x1="{x0:.1f}" y1="{mid:.1f}" x2="{x1:.1f}" y2="{mid:.1f}" stroke="#333333"/>')
            for x in (x0, x1):
                out.append(f'<line x1="{x:.1f}" y1="{y + 3}" x2="{x:.1f}" y2="{y + BAR_H - 3}" stroke="#333333"/>')
            end = max(w, x1 - LABEL_W)
        out.append(f'<text x="{LABEL_W + end + 5:.1f}" y="{y + BAR_H - 4}" font-size="12">{fmt(v)}</text>')
        y += BAR_H + GAP
    return y + PANEL_GAP


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    data = read(argv[1:-1])
    body = []
    y = 10
    drawn = 0
    for scenario, title, log in PANELS:
        peers = data.get(scenario)
        if not peers:
            continue
        rows = sorted(peers.items(), key=lambda kv: median(kv[1]), reverse=not log)
        y = panel(body, y, title, rows, log)
        drawn += 1
    if drawn == 0:
        sys.stderr.write("chart.py: no scenario to draw in %s\n" % " ".join(argv[1:-1]))
        return 1
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" '
           f'font-family="DejaVu Sans, Arial, sans-serif">',
           f'<rect width="{WIDTH}" height="{y}" fill="white"/>'] + body + ["</svg>"]
    with open(argv[-1], "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
