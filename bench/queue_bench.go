// SPDX-License-Identifier: MIT
// queue_bench.go - the Go peer of bench/queue_bench.c: a buffered channel
// (capacity 1024) whose sends and receives select on ctx.Done(), so a
// context cancel stops every blocked receiver. Scenarios and units as in
// queue_bench.c; peer name go_select_ctx. The 64 stop-scenario goroutines
// lock their OS threads so that their sleeps and context switches can be
// seen per thread in /proc.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	capacity = 1024
	items    = 1000000
	waiters  = 64
)

var quick = os.Getenv("BENCH_QUICK") != "" && os.Getenv("BENCH_QUICK") != "0"

func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func result(scenario string, value float64, unit, better string) {
	fmt.Printf("RESULT %s go_select_ctx %.3f %s %s\n", scenario, value, unit, better)
}

func throughputOnce(np, nc int) float64 {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan uintptr, capacity)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	sums := make([]uintptr, nc)
	ready.Add(np + nc)
	done.Add(np + nc)
	for i := 0; i < np; i++ {
		go func(i int) {
			defer done.Done()
			ready.Done()
			<-start
			first := i * (items / np)
			for k := first; k < first+items/np; k++ {
				select {
				case ch <- uintptr(k + 1):
				case <-ctx.Done():
					return
				}
			}
		}(i)
	}
	for i := 0; i < nc; i++ {
		go func(i int) {
			defer done.Done()
			ready.Done()
			<-start
			for k := 0; k < items/nc; k++ {
				select {
				case v := <-ch:
					sums[i] += v
				case <-ctx.Done():
					return
				}
			}
		}(i)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	el := time.Since(t0)
	var sum uintptr
	for _, s := range sums {
		sum += s
	}
	if sum != uintptr(items)*(items+1)/2 {
		fmt.Fprintln(os.Stderr, "queue_bench.go: items lost")
		os.Exit(1)
	}
	return float64(items) / (float64(el.Nanoseconds()) / 1e3)
}

func taskState(tid int32) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return '?'
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return '?'
	}
	return b[i+2]
}

func taskSwitches(tid int32) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", tid))
	if err != nil {
		return 0
	}
	var sum int64
	for _, line := range strings.Split(string(b), "\n") {
		var v int64
		if n, _ := fmt.Sscanf(line, "voluntary_ctxt_switches: %d", &v); n == 1 {
			sum += v
		} else if n, _ := fmt.Sscanf(line, "nonvoluntary_ctxt_switches: %d", &v); n == 1 {
			sum += v
		}
	}
	return sum
}

// 64 goroutines on locked threads blocked in select on an empty channel and
// ctx.Done(); returns us from cancel() to the last return.
func waitersOnce(idle time.Duration) (float64, float64) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan uintptr, capacity)
	tids := make([]int32, waiters)
	returned := make([]time.Time, waiters)
	var done sync.WaitGroup
	done.Add(waiters)
	for i := 0; i < waiters; i++ {
		go func(i int) {
			runtime.LockOSThread()
			defer done.Done()
			atomic.StoreInt32(&tids[i], int32(syscall.Gettid()))
			select {
			case <-ch:
				panic("a blocked receive got an item")
			case <-ctx.Done():
			}
			returned[i] = time.Now()
		}(i)
	}
	for {
		asleep := 0
		for i := range tids {
			t := atomic.LoadInt32(&tids[i])
			if t != 0 && taskState(t) == 'S' {
				asleep++
			}
		}
		if asleep == waiters {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	rate := 0.0
	if idle > 0 {
		var before, after int64
		for _, t := range tids {
			before += taskSwitches(t)
		}
		t0 := time.Now()
		time.Sleep(idle)
		el := time.Since(t0)
		for _, t := range tids {
			after += taskSwitches(t)
		}
		rate = float64(after-before) / el.Seconds()
	}
	t0 := time.Now()
	cancel()
	done.Wait()
	last := t0
	for _, r := range returned {
		if r.After(last) {
			last = r
		}
	}
	return float64(last.Sub(t0).Nanoseconds()) / 1e3, rate
}

func wanted(s string) bool {
	only := os.Getenv("BENCH_ONLY")
	return only == "" || strings.Contains(only, s)
}

func main() {
	reps := 11
	if quick {
		reps = 3
	}
	for _, s := range []struct {
		name   string
		np, nc int
	}{{"queue_1p1c", 1, 1}, {"queue_2p2c", 2, 2}} {
		if !wanted(s.name) {
			continue
		}
		v := make([]float64, 0, reps)
		for k := 0; k < reps; k++ {
			v = append(v, throughputOnce(s.np, s.nc))
		}
		result(s.name, median(v), "Mitems/s", "higher")
	}
	if wanted("queue_stop_64") {
		n := 21
		if quick {
			n = 5
		}
		v := make([]float64, 0, n)
		for k := 0; k < n; k++ {
			us, _ := waitersOnce(0)
			v = append(v, us)
		}
		result("queue_stop_64", median(v), "us", "lower")
	}
	if wanted("queue_idle_wakeups_64") {
		idle := 5 * time.Second
		if quick {
			idle = time.Second
		}
		_, rate := waitersOnce(idle)
		result("queue_idle_wakeups_64", rate, "wakeups/s", "lower")
	}
}
