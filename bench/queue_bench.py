# SPDX-License-Identifier: MIT
"""queue_bench.py - the Python peer of bench/queue_bench.c: queue.Queue
(maxsize 1024) consumed with the article's loop, get(timeout=0.5) and a
re-check of a stop flag (a threading.Event), so a stop is noticed up to
half a second late. Scenarios and units as in queue_bench.c; peer name
python_get_timeout. Throughput moves fewer items than the C peers
(200,000; 50,000 with BENCH_QUICK=1) and reports the same unit.
"""
import os
import queue
import sys
import threading
import time

CAPACITY = 1024
WAITERS = 64
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ITEMS = 50000 if QUICK else 200000


def result(scenario, value, unit, better):
    print(f"RESULT {scenario} python_get_timeout {value:.3f} {unit} {better}", flush=True)


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def consume(q, stop, count, out):
    """The article's consumer: poll with a timeout, re-check the flag."""
    got = 0
    total = 0
    while not stop.is_set() and got < count:
        try:
            item = q.get(timeout=0.5)
        except queue.Empty:
            continue
        total += item
        got += 1
    out.append(total)


def produce(q, stop, first, count):
    for i in range(first, first + count):
        while not stop.is_set():
            try:
                q.put(i + 1, timeout=0.5)
                break
            except queue.Full:
                continue


def throughput_once(np_, nc):
    q = queue.Queue(maxsize=CAPACITY)
    stop = threading.Event()
    sums = []
    threads = [threading.Thread(target=produce, args=(q, stop, i * (ITEMS // np_), ITEMS // np_))
               for i in range(np_)]
    threads += [threading.Thread(target=consume, args=(q, stop, ITEMS // nc, sums)) for _ in range(nc)]
    t0 = time.monotonic_ns()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t1 = time.monotonic_ns()
    if sum(sums) != ITEMS * (ITEMS + 1) // 2:
        sys.exit("queue_bench.py: items lost")
    return ITEMS / ((t1 - t0) / 1e3)


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


def waiters_once(idle_s):
    """64 threads in the article's loop on an empty queue. Returns the us from
    setting the flag to the last return, and the idle wake-up rate."""
    q = queue.Queue(maxsize=CAPACITY)
    stop = threading.Event()
    tids = [0] * WAITERS
    returned = [0] * WAITERS

    def waiter(i):
        tids[i] = threading.get_native_id()
        while not stop.is_set():
            try:
                q.get(timeout=0.5)
                sys.exit("a blocked get returned an item")
            except queue.Empty:
                continue
        returned[i] = time.monotonic_ns()

    threads = [threading.Thread(target=waiter, args=(i,)) for i in range(WAITERS)]
    for t in threads:
        t.start()
    while not all(t != 0 for t in tids):
        time.sleep(0.001)
    time.sleep(0.05)
    rate = 0.0
    if idle_s > 0:
        before = sum(task_switches(t) for t in tids)
        t0 = time.monotonic_ns()
        time.sleep(idle_s)
        t1 = time.monotonic_ns()
        after = sum(task_switches(t) for t in tids)
        rate = (after - before) / ((t1 - t0) / 1e9)
    t0 = time.monotonic_ns()
    stop.set()
    for t in threads:
        t.join()
    return (max(returned) - t0) / 1e3, rate


def wanted(s):
    only = os.environ.get("BENCH_ONLY", "")
    return only == "" or s in only


def main():
    reps = 1 if QUICK else 3
    for name, np_, nc in (("queue_1p1c", 1, 1), ("queue_2p2c", 2, 2)):
        if wanted(name):
            result(name, median([throughput_once(np_, nc) for _ in range(reps)]), "Mitems/s", "higher")
    if wanted("queue_stop_64"):
        result("queue_stop_64", median([waiters_once(0)[0] for _ in range(1 if QUICK else 5)]), "us", "lower")
    if wanted("queue_idle_wakeups_64"):
        result("queue_idle_wakeups_64", waiters_once(1 if QUICK else 5)[1], "wakeups/s", "lower")


if __name__ == "__main__":
    main()
