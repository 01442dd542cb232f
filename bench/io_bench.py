# SPDX-License-Identifier: MIT
"""io_bench.py - the article's Python pattern, as the peer of io_bench.c.

64 threads loop on ``sock.recv`` with a socket timeout of 0.5 s and look at a
threading.Event between timeouts: the only way plain Python lets a thread
blocked in recv notice a stop. Measures event.set() -> the last thread has
returned (median of repeated runs). The threads wake 128 times a second
between runs, which is the other cost of the pattern.
"""
import socket
import statistics
import threading
import time

THREADS = 64
RUNS = 7
TIMEOUT = 0.5


def stop_once(pairs):
    stop = threading.Event()
    started = threading.Barrier(THREADS + 1)
    returned = [0.0] * THREADS

    def worker(i, sock):
        sock.settimeout(TIMEOUT)
        started.wait()
        while not stop.is_set():
            try:
                sock.recv(16)
            except socket.timeout:
                continue
        returned[i] = time.monotonic()

    threads = [threading.Thread(target=worker, args=(i, pairs[i][0])) for i in range(THREADS)]
    for t in threads:
        t.start()
    started.wait()
    # Let every thread settle into recv at a different point of its timeout.
    time.sleep(0.2)
    t0 = time.monotonic()
    stop.set()
    for t in threads:
        t.join()
    return (max(returned) - t0) * 1e6


def main():
    pairs = [socket.socketpair() for _ in range(THREADS)]
    values = [stop_once(pairs) for _ in range(RUNS)]
    print("RESULT stop_64_blocked python_timeout_0.5s %.1f us lower" % statistics.median(values), flush=True)
    for a, b in pairs:
        a.close()
        b.close()


if __name__ == "__main__":
    main()
