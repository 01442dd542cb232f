#!/usr/bin/env python3
"""table.py - turn bench results into markdown tables.

    python3 bench/table.py RESULTS [--doc FILE]

RESULTS is the file bench/run.sh writes: `# key: value` lines about the run
(date, command, machine...) and `RESULT <scenario> <peer> <value> <unit>
<better>` lines. The script prints one table per scenario, in the order the
scenarios first appear: grace first, then the peers best first, each with
its ratio to grace taken so that a ratio above 1 always means grace is
better (peer/grace where lower is better, grace/peer where higher is).
Then it checks the targets the project's issues set, from the same run.

With --doc, the same text replaces the part of FILE between the markers
`<!-- results:begin -->` and `<!-- results:end -->` (FILE is created, or the
markers appended, when missing), so the prose around the tables survives a
new run: `python3 bench/table.py build/bench/results.txt --doc
docs/benchmarks.md` regenerates the doc from a saved results file.
"""
import math
import os
import sys

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


def parse(path):
    meta, order, rows, problems = {}, [], {}, []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#"):
                key, sep, val = line[1:].strip().partition(": ")
                if sep and key not in meta:
                    meta[key] = val
                continue
            if not line.startswith("RESULT"):
                continue
            p = line.split()
            try:
                if len(p) != 6 or p[5] not in ("lower", "higher"):
                    raise ValueError
                value = float(p[3])
            except ValueError:
                problems.append(f"line {n} malformed: `{line}`")
                continue
            scen, peer = p[1], p[2]
            if scen not in rows:
                rows[scen] = {}
                order.append(scen)
            if peer in rows[scen]:
                problems.append(f"{scen}/{peer} measured twice; the last value is used")
            rows[scen][peer] = (value, p[4], p[5])
    return meta, order, rows, problems


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


def table(scen, peers):
    units = {u for _, u, _ in peers.values()}
    betters = {b for _, _, b in peers.values()}
    mixed = len(betters) > 1
    better = betters.pop() if not mixed else "lower"
    head = f"### {scen} ({', '.join(sorted(units))}, {better} is better)"
    out = [head, "", "| peer | value | unit | ratio to grace (> 1: grace is better) |", "|---|---:|---|---:|"]
    grace = peers.get("grace")

    def key(item):
        v = item[1][0]
        return v if better == "lower" else -v

    items = sorted((kv for kv in peers.items() if kv[0] != "grace"), key=key)
    if grace is not None:
        items.insert(0, ("grace", grace))
    for peer, (value, unit, b) in items:
        if grace is None:
            r = "n/a (no grace line)"
        elif b != grace[2] or unit != grace[1]:
            r = "n/a (unit differs)"
        else:
            r = fmt_ratio(ratio(grace[0], value, b))
            if grace[0] == 0 and value == 0:
                r += " (both 0)"
        name = f"**{peer}**" if peer == "grace" else peer
        out.append(f"| {name} | {fmt_value(value)} | {unit} | {r} |")
    if mixed:
        out.append("")
        out.append("Warning: this scenario mixes better=lower and better=higher lines.")
    return out


def val(rows, scen, peer):
    v = rows.get(scen, {}).get(peer)
    return None if v is None else v[0]


def at_most(rows, scen, factor, other):
    """grace <= factor x other."""
    g, o = val(rows, scen, "grace"), val(rows, scen, other)
    if g is None or o is None:
        return None, f"grace {g}, {other} {o}"
    return g <= factor * o, f"grace {fmt_value(g)} vs {other} {fmt_value(o)}: {fmt_ratio(g / o if o else math.inf)}x"


def below(rows, scen, other):
    """grace < other."""
    g, o = val(rows, scen, "grace"), val(rows, scen, other)
    if g is None or o is None:
        return None, f"grace {g}, {other} {o}"
    return g < o, f"grace {fmt_value(g)} vs {other} {fmt_value(o)}"


def zero(rows, scen):
    g = val(rows, scen, "grace")
    if g is None:
        return None, "no grace line"
    return g == 0, f"grace {fmt_value(g)}"


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


def report(meta, order, rows, problems):
    out = []
    for key in ("date", "command", "commit", "machine", "load", "compilers", "peers"):
        if key in meta:
            out.append(f"- {key}: {meta[key]}")
    out.append("")
    checked = [(s, t, c(rows)) for s, t, c in TARGETS if s in rows]
    if checked:
        out += ["### Targets", "", "| scenario | target | figures (this run) | verdict |", "|---|---|---|---|"]
        for scen, target, (ok, detail) in checked:
            verdict = "not measured" if ok is None else ("met" if ok else "**missed**")
            out.append(f"| {scen} | {target} | {detail} | {verdict} |")
        out.append("")
    for scen in order:
        out += table(scen, rows[scen])
        out.append("")
    for key in ("skipped", "failed"):
        if key in meta:
            out.append(f"- {key}: {meta[key]}")
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
    doc = None
    if "--doc" in args:
        i = args.index("--doc")
        if i + 1 >= len(args):
            sys.exit("table.py: --doc needs a file")
        doc = args[i + 1]
        del args[i : i + 2]
    if len(args) != 1:
        sys.exit("usage: table.py RESULTS [--doc FILE]")
    body = report(*parse(args[0]))
    print("\n".join(body))
    if doc:
        write_doc(doc, body)


if __name__ == "__main__":
    main(sys.argv)
