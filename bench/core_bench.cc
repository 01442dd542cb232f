// SPDX-License-Identifier: MIT
// core_bench.cc - the foundation benchmark, C++20 peers: std::stop_token,
// std::condition_variable_any (its stop_token waits) and std::atomic::wait.
//
// The scenarios and their rules are those of core_bench.c (see
// bench/README.md): the same loops, the same handshakes, the same medians,
// so the lines compare directly with grace's. BENCH_QUICK=1 shortens every
// phase; arguments, if any, name the scenarios to run. BENCH_PIN=cross|same
// pins the ping-pong threads (for experiments; the benchmark pins nothing).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

bool quick;
std::vector<std::string> filters;

int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void result(const char *scenario, const char *peer, double value, const char *unit, const char *better)
{
	std::printf("RESULT %s %s %.3f %s %s\n", scenario, peer, value, unit, better);
	std::fflush(stdout);
}

bool wanted(const char *scenario)
{
	return filters.empty() || std::find(filters.begin(), filters.end(), scenario) != filters.end();
}

// ---- stop_check ----

double loop_stop_token(const std::stop_token &tok, long n)
{
	int64_t t0 = now_ns();
	long i;
	for (i = 0; i < n; i++) {
		if (tok.stop_requested())
			break;
		__asm__ __volatile__("" : "+r"(i));
	}
	int64_t t1 = now_ns();
	if (i != n)
		std::abort();
	return double(t1 - t0) / double(n);
}

void bench_stop_check()
{
	long n = quick ? 10000000L : 100000000L;
	int reps = quick ? 3 : 11;
	std::stop_source src;
	std::stop_token tok = src.get_token();
	std::vector<double> v;
	for (int k = 0; k < reps; k++)
		v.push_back(loop_stop_token(tok, n));
	result("stop_check", "cxx_stop_token", median(v), "ns", "lower");
}

// ---- event_pingpong ----

// One flag each way, as in core_bench.c: A sets ab and waits for ba; B waits
// for ab, clears it and sets ba.
struct PingPong {
	virtual ~PingPong() = default;
	virtual void set(int side) = 0;
	virtual void wait_clear(int side) = 0;
};

struct AtomicWaitPP : PingPong {
	std::atomic<int> flag[2] = {0, 0};
	void set(int side) override
	{
		flag[side].store(1);
		flag[side].notify_one();
	}
	void wait_clear(int side) override
	{
		flag[side].wait(0);
		flag[side].store(0);
	}
};

// condition_variable_any waiting with a stop_token: the stoppable wait C++20
// offers, which is what grace's wait is compared with.
struct CondvarAnyPP : PingPong {
	std::stop_source src;
	std::mutex m;
	std::condition_variable_any cv[2];
	bool flag[2] = {false, false};
	void set(int side) override
	{
		{
			std::lock_guard<std::mutex> lk(m);
			flag[side] = true;
		}
		cv[side].notify_one();
	}
	void wait_clear(int side) override
	{
		std::unique_lock<std::mutex> lk(m);
		if (!cv[side].wait(lk, src.get_token(), [&] { return flag[side]; }))
			std::abort();
		flag[side] = false;
	}
};

// BENCH_PIN=cross puts side A on CPU 0 and side B on CPU 1, BENCH_PIN=same
// both on CPU 0: for experiments only. The benchmark itself pins nothing.
void pp_pin(int cpu)
{
	const char *p = std::getenv("BENCH_PIN");
	if (p == nullptr || p[0] == '\0')
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(std::strcmp(p, "same") == 0 ? 0 : cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void pp_unpin()
{
	if (std::getenv("BENCH_PIN") == nullptr)
		return;
	cpu_set_t all;
	CPU_ZERO(&all);
	for (int c = 0; c < CPU_SETSIZE; c++)
		CPU_SET(c, &all);
	pthread_setaffinity_np(pthread_self(), sizeof all, &all);
}

template <class T> double pp_once(long rounds)
{
	T pp;
	pp_pin(0);
	std::thread b([&] {
		pp_pin(1);
		for (long i = 0; i < rounds; i++) {
			pp.wait_clear(0);
			pp.set(1);
		}
	});
	pp.set(0);
	pp.wait_clear(1);
	int64_t t0 = now_ns();
	for (long i = 1; i < rounds; i++) {
		pp.set(0);
		pp.wait_clear(1);
	}
	int64_t t1 = now_ns();
	b.join();
	pp_unpin();
	return double(t1 - t0) / 1000.0 / double(rounds - 1);
}

// The peers take turns, one repetition each, so that a noisy moment on the
// machine hits them alike.
void bench_pingpong()
{
	long rounds = quick ? 500 : 2000;
	int reps = quick ? 5 : 31;
	std::vector<double> a, c;
	for (int k = 0; k < reps; k++) {
		a.push_back(pp_once<AtomicWaitPP>(rounds));
		c.push_back(pp_once<CondvarAnyPP>(rounds));
	}
	result("event_pingpong", "cxx_atomic_wait", median(a), "us", "lower");
	result("event_pingpong", "cxx_condvar_any", median(c), "us", "lower");
}

// ---- stop_all_N and idle_wakeups_64 ----

char task_state(int tid)
{
	char path[64], buf[256];
	std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	FILE *f = std::fopen(path, "r");
	if (f == nullptr)
		return '?';
	size_t n = std::fread(buf, 1, sizeof buf - 1, f);
	std::fclose(f);
	buf[n] = '\0';
	const char *p = std::strrchr(buf, ')');
	return p != nullptr && p[1] == ' ' ? p[2] : '?';
}

long task_switches(int tid)
{
	char path[64], line[128];
	std::snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
	FILE *f = std::fopen(path, "r");
	if (f == nullptr)
		return 0;
	long sum = 0, v;
	while (std::fgets(line, sizeof line, f) != nullptr) {
		if (std::sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    std::sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			sum += v;
	}
	std::fclose(f);
	return sum;
}

struct Waiters {
	virtual ~Waiters() = default;
	virtual void block() = 0;
	virtual void request() = 0;
};

// Threads in condition_variable_any::wait(lock, stop_token, pred); the
// request is stop_source::request_stop().
struct StopCvAny : Waiters {
	std::stop_source src;
	std::mutex m;
	std::condition_variable_any cv;
	void block() override
	{
		std::unique_lock<std::mutex> lk(m);
		if (cv.wait(lk, src.get_token(), [] { return false; }))
			std::abort();
	}
	void request() override { src.request_stop(); }
};

// Threads in std::atomic<int>::wait(0); the request is a store and
// notify_all.
struct AtomicWait : Waiters {
	std::atomic<int> flag{0};
	void block() override
	{
		while (flag.load() == 0)
			flag.wait(0);
	}
	void request() override
	{
		flag.store(1);
		flag.notify_all();
	}
};

// Returns the stop latency in us; stores the idle rate if idle_ns > 0.
template <class T> double waiters_once(int n, int64_t idle_ns, double *rate)
{
	T w;
	std::vector<std::atomic<int>> tids(n);
	std::vector<int64_t> returned(n, 0);
	std::vector<std::thread> threads;
	for (int i = 0; i < n; i++) {
		tids[i].store(0);
		threads.emplace_back([&, i] {
			tids[i].store(int(syscall(SYS_gettid)));
			w.block();
			returned[i] = now_ns();
		});
	}
	int64_t give_up = now_ns() + 10000000000LL;
	for (;;) {
		int asleep = 0;
		for (int i = 0; i < n; i++)
			if (tids[i].load() != 0 && task_state(tids[i].load()) == 'S')
				asleep++;
		if (asleep == n)
			break;
		if (now_ns() > give_up) {
			std::fprintf(stderr, "core_bench_cc: only %d of %d waiters asleep after 10 s\n", asleep, n);
			break;
		}
		usleep(200);
	}
	if (idle_ns > 0) {
		long before = 0, after = 0;
		for (int i = 0; i < n; i++)
			before += task_switches(tids[i].load());
		int64_t t0 = now_ns();
		std::this_thread::sleep_for(std::chrono::nanoseconds(idle_ns));
		int64_t t1 = now_ns();
		for (int i = 0; i < n; i++)
			after += task_switches(tids[i].load());
		*rate = double(after - before) / (double(t1 - t0) / 1e9);
	}
	int64_t t0 = now_ns();
	w.request();
	for (auto &t : threads)
		t.join();
	int64_t last = *std::max_element(returned.begin(), returned.end());
	return double(std::max(last, t0) - t0) / 1000.0;
}

void bench_stop_all(int n)
{
	int reps = quick ? 5 : n <= 8 ? 31 : 21;
	std::vector<double> c, a;
	for (int k = 0; k < reps; k++) {
		c.push_back(waiters_once<StopCvAny>(n, 0, nullptr));
		a.push_back(waiters_once<AtomicWait>(n, 0, nullptr));
	}
	std::string scenario = "stop_all_" + std::to_string(n);
	result(scenario.c_str(), "cxx_stop_cv_any", median(c), "us", "lower");
	result(scenario.c_str(), "cxx_atomic_wait", median(a), "us", "lower");
}

template <class T> void bench_idle(const char *peer)
{
	double rate = 0;
	waiters_once<T>(64, quick ? 1000000000LL : 5000000000LL, &rate);
	result("idle_wakeups_64", peer, rate, "wakeups/s", "lower");
}

} // namespace

int main(int argc, char **argv)
{
	const char *q = std::getenv("BENCH_QUICK");
	quick = q != nullptr && q[0] != '\0' && q[0] != '0';
	for (int i = 1; i < argc; i++)
		filters.emplace_back(argv[i]);

	if (wanted("stop_check"))
		bench_stop_check();
	if (wanted("event_pingpong"))
		bench_pingpong();
	for (int n : {8, 64})
		if (wanted(("stop_all_" + std::to_string(n)).c_str()))
			bench_stop_all(n);
	if (wanted("idle_wakeups_64")) {
		bench_idle<StopCvAny>("cxx_stop_cv_any");
		bench_idle<AtomicWait>("cxx_atomic_wait");
	}
	return 0;
}
