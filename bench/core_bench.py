#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""core_bench.py - the foundation benchmark, Python peers: the article's
patterns, `while not ev.is_set(): time.sleep(1)` and `ev.wait()`, on
threading.Event.

The scenarios and their rules are those of core_bench.c (see
bench/README.md), with fewer iterations where the interpreter is slow.
BENCH_QUICK=1 shortens every phase; arguments, if any, name the scenarios to
run.
"""
import os
import statistics
import sys
import threading
import time

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
FILTERS = sys.argv[1:]


def pick(full, short):
    return short if QUICK else full


def result(scenario, peer, value, unit, better):
    print(f"RESULT {scenario} {peer} {value:.3f} {unit} {better}", flush=True)


def wanted(scenario):
    return not FILTERS or scenario in FILTERS


def bench_stop_check():
    # The interpreter costs tens of nanoseconds per iteration: a million
    # iterations keep the phase short.
    n = pick(1_000_000, 200_000)
    ev = threading.Event()
    vals = []
    for _ in range(pick(11, 3)):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            if ev.is_set():
                break
        vals.append((time.perf_counter_ns() - t0) / n)
    result("stop_check", "python_is_set", statistics.median(vals), "ns", "lower")


def pp_once(rounds):
    ab, ba = threading.Event(), threading.Event()

    def side_b():
        for _ in range(rounds):
            ab.wait()
            ab.clear()
            ba.set()

    b = threading.Thread(target=side_b)
    b.start()
    ab.set()
    ba.wait()
    ba.clear()
    t0 = time.perf_counter_ns()
    for _ in range(rounds - 1):
        ab.set()
        ba.wait()
        ba.clear()
    el = time.perf_counter_ns() - t0
    b.join()
    return el / 1000 / (rounds - 1)


def bench_pingpong():
    vals = [pp_once(pick(1000, 300)) for _ in range(pick(31, 5))]
    result("event_pingpong", "python_event", statistics.median(vals), "us", "lower")


def task_state(tid):
    try:
        with open(f"/proc/self/task/{tid}/stat") as f:
            s = f.read()
    except OSError:
        return "?"
    i = s.rfind(")")
    return s[i + 2] if i >= 0 and i + 2 < len(s) else "?"


def task_switches(tid):
    total = 0
    try:
        with open(f"/proc/self/task/{tid}/status") as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def waiters_once(n, sleep_loop, idle_s=0.0):
    """Returns the stop latency in us and the idle rate (when idle_s > 0)."""
    ev = threading.Event()
    tids = [0] * n
    returned = [0] * n

    def waiter(i):
        tids[i] = threading.get_native_id()
        if sleep_loop:
            while not ev.is_set():
                time.sleep(1)
        else:
            ev.wait()
        returned[i] = time.monotonic_ns()

    threads = [threading.Thread(target=waiter, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    give_up = time.monotonic() + 10
    while True:
        asleep = sum(1 for tid in tids if tid and task_state(tid) == "S")
        if asleep == n:
            break
        if time.monotonic() > give_up:
            print(f"core_bench.py: only {asleep} of {n} waiters asleep after 10 s", file=sys.stderr)
            break
        time.sleep(0.0002)
    rate = 0.0
    if idle_s > 0:
        before = sum(task_switches(tid) for tid in tids)
        t0 = time.monotonic()
        time.sleep(idle_s)
        el = time.monotonic() - t0
        after = sum(task_switches(tid) for tid in tids)
        rate = (after - before) / el
    t0 = time.monotonic_ns()
    ev.set()
    for t in threads:
        t.join()
    return (max(max(returned), t0) - t0) / 1000, rate


def bench_stop_all(n):
    vals = [waiters_once(n, False)[0] for _ in range(pick(31 if n <= 8 else 21, 5))]
    result(f"stop_all_{n}", "python_event", statistics.median(vals), "us", "lower")
    # The sleep loop notices a stop only when its sleep ends: up to 1 s.
    vals = [waiters_once(n, True)[0] for _ in range(pick(3, 1))]
    result(f"stop_all_{n}", "python_sleep_loop", statistics.median(vals), "us", "lower")


def bench_idle():
    idle = pick(5.0, 1.0)
    result("idle_wakeups_64", "python_sleep_loop", waiters_once(64, True, idle)[1], "wakeups/s", "lower")
    result("idle_wakeups_64", "python_event_wait", waiters_once(64, False, idle)[1], "wakeups/s", "lower")


def main():
    if wanted("stop_check"):
        bench_stop_check()
    if wanted("event_pingpong"):
        bench_pingpong()
    for n in (8, 64):
        if wanted(f"stop_all_{n}"):
            bench_stop_all(n)
    if wanted("idle_wakeups_64"):
        bench_idle()


if __name__ == "__main__":
    main()
