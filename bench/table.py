#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""table.py - turn bench results into markdown tables.

    python3 bench/table.py RESULTS... [--doc FILE] [--command TEXT]

Each RESULTS file is one run as bench/run.sh writes it: `# key: value` lines
about the run (date, command, machine, load...) and `RESULT <scenario>
<peer> <value> <unit> <better>` lines. Given several files (rounds of the
same benchmarks, run one after another), the script takes every figure
over all of them: each table gives, per peer, the median of its runs and
their spread (min-max), and the ratio to grace of the medians, taken so
that a ratio above 1 always means grace is better (peer/grace where lower
is better, grace/peer where higher is). Tables list the scenarios in the
order they first appear: grace first, then the peers, best median first.

Then it checks the targets the project's issues set. A target is "met"
only when it holds across the whole spread (grace's worst run against the
peer's best), "missed" when it fails across the whole spread, and "within
noise" when the spreads overlap the threshold. A zero target is met only
when every run measured 0.

With --doc, the same text replaces the part of FILE between the markers
`<!-- results:begin -->` and `<!-- results:end -->` (FILE is created, or the
markers appended, when missing), so the prose around the tables survives a
new run: `python3 bench/table.py build/bench/results.txt --doc
docs/benchmarks.md` regenerates the doc from a saved results file.
--command TEXT replaces the command recorded in the files (for rounds run
by a loop around bench/run.sh, say).
"""
import math
import os
import sys

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


def parse(path, meta, order, rows, problems):
    """Add one results file: its `#` lines to meta["runs"], its figures to
    rows[scenario][peer] (a list, one value per run)."""
    run = {}
    seen = set()
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#"):
                key, sep, val = line[1:].strip().partition(": ")
                if sep and key not in run:
                    run[key] = val
                continue
            if not line.startswith("RESULT"):
                continue
            p = line.split()
            try:
                if len(p) != 6 or p[5] not in ("lower", "higher"):
                    raise ValueError
                value = float(p[3])
            except ValueError:
                problems.append(f"{path} line {n} malformed: `{line}`")
                continue
            scen, peer = p[1], p[2]
            if scen not in rows:
                rows[scen] = {}
                order.append(scen)
            fig = rows[scen].setdefault(peer, {"values": [], "unit": p[4], "better": p[5]})
            if (scen, peer) in seen:
                problems.append(f"{path}: {scen}/{peer} measured twice; the last value is used")
                fig["values"][-1] = value
            else:
                seen.add((scen, peer))
                fig["values"].append(value)
            if fig["unit"] != p[4] or fig["better"] != p[5]:
                problems.append(f"{path}: {scen}/{peer} changes unit or direction between runs")
    meta.setdefault("runs", []).append(run)


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def ratio(grace, peer, better):
    """peer/grace (lower is better) or grace/peer (higher is better)."""
    num, den = (peer, grace) if better == "lower" else (grace, peer)
    if den == 0:
        return 1.0 if num == 0 else math.inf
    return num / den


def fmt_value(v):
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ratio(r):
    if math.isinf(r):
        return "inf"
    if r >= 100:
        return f"{r:.0f}"
    if r >= 10:
        return f"{r:.1f}"
    return f"{r:.2f}"


def fmt_spread(values):
    if len(values) < 2:
        return "(1 run)"
    return f"{fmt_value(min(values))}–{fmt_value(max(values))}"


def table(scen, peers):
    units = {f["unit"] for f in peers.values()}
    betters = {f["better"] for f in peers.values()}
    mixed = len(betters) > 1
    better = betters.pop() if not mixed else "lower"
    head = f"### {scen} ({', '.join(sorted(units))}, {better} is better)"
    out = [head, "",
           "| peer | median | min–max | runs | unit | ratio to grace, of the medians (> 1: grace is better) |",
           "|---|---:|---:|---:|---|---:|"]
    grace = peers.get("grace")

    def key(item):
        v = median(item[1]["values"])
        return v if better == "lower" else -v

    items = sorted((kv for kv in peers.items() if kv[0] != "grace"), key=key)
    if grace is not None:
        items.insert(0, ("grace", grace))
    for peer, fig in items:
        m = median(fig["values"])
        if grace is None:
            r = "n/a (no grace line)"
        elif fig["better"] != grace["better"] or fig["unit"] != grace["unit"]:
            r = "n/a (unit differs)"
        else:
            g = median(grace["values"])
            r = fmt_ratio(ratio(g, m, fig["better"]))
            if g == 0 and m == 0:
                r += " (both 0)"
        name = f"**{peer}**" if peer == "grace" else peer
        out.append(f"| {name} | {fmt_value(m)} | {fmt_spread(fig['values'])} | {len(fig['values'])} | "
                   f"{fig['unit']} | {r} |")
    if mixed:
        out.append("")
        out.append("Warning: this scenario mixes better=lower and better=higher lines.")
    return out


def vals(rows, scen, peer):
    fig = rows.get(scen, {}).get(peer)
    return None if fig is None else fig["values"]


def describe(name, v):
    if len(v) < 2:
        return f"{name} {fmt_value(v[0])}"
    return f"{name} {fmt_value(median(v))} [{fmt_value(min(v))}–{fmt_value(max(v))}]"


def verdict3(always, never):
    """met when the target holds for every pairing of runs, missed when it
    holds for none, within noise otherwise."""
    if always:
        return "met"
    if never:
        return "missed"
    return "within noise"


def at_most(rows, scen, factor, other):
    """grace <= factor x other."""
    g, o = vals(rows, scen, "grace"), vals(rows, scen, other)
    if g is None or o is None:
        return None, f"grace {g}, {other} {o}"
    mo = median(o)
    r = median(g) / mo if mo else math.inf
    detail = f"{describe('grace', g)} vs {describe(other, o)}: {fmt_ratio(r)}x of the medians"
    return verdict3(max(g) <= factor * min(o), min(g) > factor * max(o)), detail


def below(rows, scen, other):
    """grace < other."""
    g, o = vals(rows, scen, "grace"), vals(rows, scen, other)
    if g is None or o is None:
        return None, f"grace {g}, {other} {o}"
    return verdict3(max(g) < min(o), min(g) >= max(o)), f"{describe('grace', g)} vs {describe(other, o)}"


def at_least(rows, scen, factor, other):
    """grace >= factor x other (higher is better)."""
    g, o = vals(rows, scen, "grace"), vals(rows, scen, other)
    if g is None or o is None:
        return None, f"grace {g}, {other} {o}"
    mo = median(o)
    r = median(g) / mo if mo else math.inf
    detail = f"{describe('grace', g)} vs {describe(other, o)}: {fmt_ratio(r)}x of the medians"
    return verdict3(min(g) >= factor * max(o), max(g) < factor * min(o)), detail


def at_most_of(rows, scen, factor, oscen, other):
    """grace of `scen` <= factor x `other` of another scenario `oscen`."""
    g, o = vals(rows, scen, "grace"), vals(rows, oscen, other)
    if g is None or o is None:
        return None, f"grace {g}, {oscen}/{other} {o}"
    mo = median(o)
    r = median(g) / mo if mo else math.inf
    detail = (f"{describe('grace', g)} vs {describe(oscen + ' ' + other, o)}: "
              f"{fmt_ratio(r)}x of the medians")
    return verdict3(max(g) <= factor * min(o), min(g) > factor * max(o)), detail


def ahead_of_all(rows, scen, exclude):
    """grace better than every peer of `scen` but those in `exclude`."""
    g = vals(rows, scen, "grace")
    peers = {p: f for p, f in rows.get(scen, {}).items() if p != "grace" and p not in exclude}
    if g is None or not peers:
        return None, f"grace {g}, no peer"
    lower = next(iter(peers.values()))["better"] == "lower"

    def best(v):
        return min(v) if lower else max(v)

    def worst(v):
        return max(v) if lower else min(v)

    def beats(a, b):
        return a < b if lower else a > b

    name, fig = sorted(peers.items(), key=lambda kv: median(kv[1]["values"]), reverse=not lower)[0]
    always = all(beats(worst(g), best(f["values"])) for f in peers.values())
    never = any(beats(worst(f["values"]), best(g)) for f in peers.values())
    return verdict3(always, never), f"{describe('grace', g)}; next best {describe(name, fig['values'])}"


def zero(rows, scen):
    g = vals(rows, scen, "grace")
    if g is None:
        return None, "no grace line"
    nonzero = sum(1 for v in g if v != 0)
    detail = describe("grace", g) + (f" ({len(g)} runs)" if len(g) > 1 else "")
    return ("met" if nonzero == 0 else "missed"), detail


# The targets of the project's issues, each checked within one run. Add a
# part's targets here as (scenario, target, check).
TARGETS = [
    ("stop_check", "grace <= 1.5 x inline_load", lambda r: at_most(r, "stop_check", 1.5, "inline_load")),
    ("event_pingpong", "grace <= cxx_atomic_wait", lambda r: at_most(r, "event_pingpong", 1.0, "cxx_atomic_wait")),
]
for _n in (8, 64):
    _s = f"stop_all_{_n}"
    TARGETS += [
        (_s, "grace <= 1.2 x raw_futex", lambda r, s=_s: at_most(r, s, 1.2, "raw_futex")),
        (_s, "grace < cxx_stop_cv_any", lambda r, s=_s: below(r, s, "cxx_stop_cv_any")),
        (_s, "grace < glib_cancellable_cond", lambda r, s=_s: below(r, s, "glib_cancellable_cond")),
    ]
TARGETS.append(("idle_wakeups_64", "grace == 0", lambda r: zero(r, "idle_wakeups_64")))
# The queue, I/O and threads issues.
for _s in ("queue_1p1c", "queue_2p2c"):
    TARGETS += [
        (_s, "grace >= 2 x go_select_ctx", lambda r, s=_s: at_least(r, s, 2.0, "go_select_ctx")),
        (_s, "grace ahead of every peer but the lock-free floor",
         lambda r, s=_s: ahead_of_all(r, s, ("lockfree_futex", "grace_unbounded"))),
        (_s, "grace >= lockfree_futex / 3", lambda r, s=_s: at_least(r, s, 1 / 3, "lockfree_futex")),
    ]
TARGETS += [
    ("queue_stop_64", "grace <= 1.2 x grace_event", lambda r: at_most(r, "queue_stop_64", 1.2, "grace_event")),
    ("queue_idle_wakeups_64", "grace == 0", lambda r: zero(r, "queue_idle_wakeups_64")),
    ("recv_ready_16B", "grace <= 1.05 x bare_recv", lambda r: at_most(r, "recv_ready_16B", 1.05, "bare_recv")),
    ("stop_64_blocked", "grace <= 1.5 x grace_event_wait",
     lambda r: at_most(r, "stop_64_blocked", 1.5, "grace_event_wait")),
    ("stop_64_blocked", "grace <= 1.5 x stop_all_64 grace",
     lambda r: at_most_of(r, "stop_64_blocked", 1.5, "stop_all_64", "grace")),
    ("start_stop_join", "grace <= 1.2 x pthread", lambda r: at_most(r, "start_stop_join", 1.2, "pthread")),
    ("group_shutdown64", "grace <= jthread / 5", lambda r: at_most(r, "group_shutdown64", 0.2, "jthread")),
    ("group_shutdown64", "grace <= 1.2 x futex_floor",
     lambda r: at_most(r, "group_shutdown64", 1.2, "futex_floor")),
]


def report(meta, order, rows, problems, command=None):
    out = []
    runs = meta.get("runs", [])
    first = runs[0] if runs else {}
    if command is not None:
        out.append(f"- command: {command}")
    if len(runs) > 1:
        out.append(f"- runs: {len(runs)}, one after another; each figure below is the median of its runs, "
                   "with their spread")
        for i, run in enumerate(runs, 1):
            out.append(f"- run {i}: {run.get('date', '?')}, commit {run.get('commit', '?')}, "
                       f"load {run.get('load', '?')}")
        keys = ("machine", "compilers", "peers") if command is not None else ("command", "machine", "compilers", "peers")
    else:
        keys = ("date", "command", "commit", "machine", "load", "compilers", "peers")
        if command is not None:
            keys = tuple(k for k in keys if k != "command")
    for key in keys:
        if key in first:
            out.append(f"- {key}: {first[key]}")
    out.append("")
    checked = [(s, t, c(rows)) for s, t, c in TARGETS if s in rows]
    if checked:
        out += ["### Targets", "", "| scenario | target | figures (median [min–max]) | verdict |",
                "|---|---|---|---|"]
        for scen, target, (ok, detail) in checked:
            verdict = "not measured" if ok is None else ("**missed**" if ok == "missed" else ok)
            out.append(f"| {scen} | {target} | {detail} | {verdict} |")
        out.append("")
    for scen in order:
        out += table(scen, rows[scen])
        out.append("")
    for i, run in enumerate(runs, 1):
        for key in ("skipped", "failed"):
            if key in run:
                out.append(f"- {key}{f' (run {i})' if len(runs) > 1 else ''}: {run[key]}")
    for p in problems:
        out.append(f"- problem: {p}")
    while out and out[-1] == "":
        out.pop()
    return out


def write_doc(path, body):
    block = [BEGIN, "<!-- generated by bench/table.py from results.txt; edit the text outside the markers -->", ""]
    block += body + ["", END]
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        head = text[: text.index(BEGIN)]
        tail = text[text.index(END) + len(END):]
        new = head + "\n".join(block) + tail
    else:
        if not text:
            text = "# Benchmarks\n\nProduced by `make bench` (bench/run.sh); see bench/README.md.\n"
        new = text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        f.write(new)


def main(argv):
    args = argv[1:]
    opts = {}
    for flag in ("--doc", "--command"):
        if flag in args:
            i = args.index(flag)
            if i + 1 >= len(args):
                sys.exit(f"table.py: {flag} needs an argument")
            opts[flag] = args[i + 1]
            del args[i : i + 2]
    if not args:
        sys.exit("usage: table.py RESULTS... [--doc FILE] [--command TEXT]")
    meta, order, rows, problems = {}, [], {}, []
    for path in args:
        parse(path, meta, order, rows, problems)
    body = report(meta, order, rows, problems, opts.get("--command"))
    print("\n".join(body))
    if "--doc" in opts:
        write_doc(opts["--doc"], body)


if __name__ == "__main__":
    main(sys.argv)
