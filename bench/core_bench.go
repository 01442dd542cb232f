// SPDX-License-Identifier: MIT
// core_bench.go - the foundation benchmark, Go peers: a context whose Done
// channel is closed by cancel, checked with ctx.Err() or a select with a
// default, and waited on by goroutines locked to OS threads.
//
// The scenarios and their rules are those of core_bench.c (see
// bench/README.md). The waiters lock their OS threads so that "64 blocked
// threads" means 64 threads here too, and so that their context switches
// can be counted in /proc. BENCH_QUICK=1 shortens every phase; arguments, if
// any, name the scenarios to run.
package main

import (
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

var quick bool
var filters []string

func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func result(scenario, peer string, value float64, unit, better string) {
	fmt.Printf("RESULT %s %s %.3f %s %s\n", scenario, peer, value, unit, better)
}

func wanted(scenario string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if f == scenario {
			return true
		}
	}
	return false
}

func pick(full, short int) int {
	if quick {
		return short
	}
	return full
}

// ---- stop_check ----

func loopErr(ctx context.Context, n int) float64 {
	t0 := time.Now()
	i := 0
	for ; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
	}
	el := time.Since(t0)
	if i != n {
		panic("stopped early")
	}
	return float64(el.Nanoseconds()) / float64(n)
}

func loopSelect(done <-chan struct{}, n int) float64 {
	t0 := time.Now()
	i := 0
loop:
	for ; i < n; i++ {
		select {
		case <-done:
			break loop
		default:
		}
	}
	el := time.Since(t0)
	if i != n {
		panic("stopped early")
	}
	return float64(el.Nanoseconds()) / float64(n)
}

func benchStopCheck() {
	// Go's checks cost tens of times a load: fewer iterations keep the
	// phase as long as the C one.
	n := pick(20000000, 2000000)
	reps := pick(11, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var e, s []float64
	for k := 0; k < reps; k++ {
		e = append(e, loopErr(ctx, n))
		s = append(s, loopSelect(ctx.Done(), n))
	}
	result("stop_check", "go_ctx_err", median(e), "ns", "lower")
	result("stop_check", "go_select_done", median(s), "ns", "lower")
}

// ---- event_pingpong: two unbuffered channels between two goroutines ----

// With locked set, each side runs on its own OS thread, as the C peers do;
// without it the two goroutines may hand off inside the Go scheduler.
func ppOnce(rounds int, locked bool) float64 {
	ab := make(chan struct{})
	ba := make(chan struct{})
	if locked {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	go func() {
		if locked {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		for i := 0; i < rounds; i++ {
			<-ab
			ba <- struct{}{}
		}
	}()
	ab <- struct{}{}
	<-ba
	t0 := time.Now()
	for i := 1; i < rounds; i++ {
		ab <- struct{}{}
		<-ba
	}
	el := time.Since(t0)
	return float64(el.Nanoseconds()) / 1000.0 / float64(rounds-1)
}

func benchPingPong() {
	rounds := pick(2000, 500)
	reps := pick(31, 5)
	var v, l []float64
	for k := 0; k < reps; k++ {
		v = append(v, ppOnce(rounds, false))
		l = append(l, ppOnce(rounds, true))
	}
	result("event_pingpong", "go_chan", median(v), "us", "lower")
	result("event_pingpong", "go_chan_locked", median(l), "us", "lower")
}

// ---- stop_all_N and idle_wakeups_64 ----

func taskState(tid int32) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return '?'
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return '?'
	}
	return s[i+2]
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

// waitersOnce returns the stop latency in us and the idle rate (when idle > 0).
func waitersOnce(n int, idle time.Duration) (float64, float64) {
	ctx, cancel := context.WithCancel(context.Background())
	never := make(chan struct{})
	tids := make([]int32, n)
	returned := make([]time.Time, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runtime.LockOSThread()
			atomic.StoreInt32(&tids[i], int32(syscall.Gettid()))
			select {
			case <-ctx.Done():
			case <-never:
			}
			returned[i] = time.Now()
			// Leaving the thread locked makes the runtime end it with
			// the goroutine: the next run starts from fresh threads.
		}(i)
	}
	giveUp := time.Now().Add(10 * time.Second)
	for {
		asleep := 0
		for i := 0; i < n; i++ {
			tid := atomic.LoadInt32(&tids[i])
			if tid != 0 && taskState(tid) == 'S' {
				asleep++
			}
		}
		if asleep == n {
			break
		}
		if time.Now().After(giveUp) {
			fmt.Fprintf(os.Stderr, "core_bench_go: only %d of %d waiters asleep after 10 s\n", asleep, n)
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	rate := 0.0
	if idle > 0 {
		var before, after int64
		for i := 0; i < n; i++ {
			before += taskSwitches(tids[i])
		}
		t0 := time.Now()
		time.Sleep(idle)
		el := time.Since(t0)
		for i := 0; i < n; i++ {
			after += taskSwitches(tids[i])
		}
		rate = float64(after-before) / el.Seconds()
	}
	t0 := time.Now()
	cancel()
	wg.Wait()
	last := t0
	for _, t := range returned {
		if t.After(last) {
			last = t
		}
	}
	return float64(last.Sub(t0).Nanoseconds()) / 1000.0, rate
}

func benchStopAll(n int) {
	reps := pick(21, 5)
	if n <= 8 {
		reps = pick(31, 5)
	}
	var v []float64
	for k := 0; k < reps; k++ {
		lat, _ := waitersOnce(n, 0)
		v = append(v, lat)
	}
	result(fmt.Sprintf("stop_all_%d", n), "go_ctx", median(v), "us", "lower")
}

func benchIdle() {
	idle := 5 * time.Second
	if quick {
		idle = time.Second
	}
	_, rate := waitersOnce(64, idle)
	result("idle_wakeups_64", "go_ctx", rate, "wakeups/s", "lower")
}

func main() {
	q := os.Getenv("BENCH_QUICK")
	quick = q != "" && q != "0"
	filters = os.Args[1:]
	if wanted("stop_check") {
		benchStopCheck()
	}
	if wanted("event_pingpong") {
		benchPingPong()
	}
	if wanted("stop_all_8") {
		benchStopAll(8)
	}
	if wanted("stop_all_64") {
		benchStopAll(64)
	}
	if wanted("idle_wakeups_64") {
		benchIdle()
	}
}
