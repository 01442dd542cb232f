#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ab.py - the table of a bench/ab.sh run.

Reads lines `base|new <scenario> <peer> <value> <unit> <better>` (and `#`
lines, printed as they are) and prints, per scenario and peer, the median
and the range of each side over its runs, and new/base of the medians. The
verdict is "within noise" when the two ranges overlap, else "better" or
"worse" by the benchmark's own `better` (lower or higher).
"""
import statistics
import sys
from collections import OrderedDict


def main(path):
    runs = OrderedDict()
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                print(line)
                continue
            parts = line.split()
            if len(parts) < 6:
                continue
            side, scen, peer, value, unit, better = parts[:6]
            key = (scen, peer, unit, better)
            runs.setdefault(key, {"base": [], "new": []})[side].append(float(value))
    print()
    print("| scenario | peer | base median [range] | new median [range] | new/base | verdict |")
    print("|---|---|---|---|---|---|")
    for (scen, peer, unit, better), sides in runs.items():
        b, n = sides["base"], sides["new"]
        if not b or not n:
            continue
        mb, mn = statistics.median(b), statistics.median(n)
        ratio = mn / mb if mb else float("nan")
        if max(b) >= min(n) and max(n) >= min(b):
            verdict = "within noise"
        else:
            lower = better.startswith("lower")
            verdict = "better" if (mn < mb) == lower else "worse"
        print(f"| {scen} | {peer} | {mb:.3g} {unit} [{min(b):.3g}–{max(b):.3g}] | "
              f"{mn:.3g} {unit} [{min(n):.3g}–{max(n):.3g}] | {ratio:.2f} | {verdict} ({len(b)}+{len(n)} runs) |")


if __name__ == "__main__":
    main(sys.argv[1])
