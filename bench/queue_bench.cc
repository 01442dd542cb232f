// SPDX-License-Identifier: MIT
// queue_bench.cc - the C++20 peer of bench/queue_bench.c: a bounded ring
// under one std::mutex with two std::condition_variable_any, whose waits
// take a std::stop_token, so a std::stop_source stops every blocked get.
// Scenarios and units as in queue_bench.c; peer name cxx_condvar_any.
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
#include <thread>
#include <vector>

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace {

constexpr size_t kCapacity = 1024;
constexpr long kItems = 1000000;
constexpr int kWaiters = 64;
bool quick = false;

int64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void result(const char *scenario, double value, const char *unit, const char *better)
{
	std::printf("RESULT %s cxx_condvar_any %.3f %s %s\n", scenario, value, unit, better);
	std::fflush(stdout);
}

class Queue {
public:
	bool put(void *item, std::stop_token st)
	{
		std::unique_lock lk(m_);
		if (!not_full_.wait(lk, st, [&] { return count_ < kCapacity; }))
			return false;
		buf_[(head_ + count_) % kCapacity] = item;
		count_++;
		lk.unlock();
		not_empty_.notify_one();
		return true;
	}

	bool get(void *&item, std::stop_token st)
	{
		std::unique_lock lk(m_);
		if (!not_empty_.wait(lk, st, [&] { return count_ > 0; }))
			return false;
		item = buf_[head_];
		head_ = (head_ + 1) % kCapacity;
		count_--;
		lk.unlock();
		not_full_.notify_one();
		return true;
	}

private:
	std::mutex m_;
	std::condition_variable_any not_empty_, not_full_;
	void *buf_[kCapacity];
	size_t head_ = 0, count_ = 0;
};

double throughput_once(int np, int nc)
{
	Queue q;
	std::stop_source ss;
	std::atomic<int> ready{0};
	std::atomic<bool> go{false};
	std::vector<uintptr_t> sums(size_t(nc), 0);
	std::vector<std::thread> th;
	for (int i = 0; i < np; i++)
		th.emplace_back([&, i] {
			ready++;
			while (!go.load())
				;
			long first = long(i) * (kItems / np);
			for (long k = first; k < first + kItems / np; k++)
				if (!q.put(reinterpret_cast<void *>(uintptr_t(k + 1)), ss.get_token()))
					std::abort();
		});
	for (int i = 0; i < nc; i++)
		th.emplace_back([&, i] {
			ready++;
			while (!go.load())
				;
			for (long k = 0; k < kItems / nc; k++) {
				void *item;
				if (!q.get(item, ss.get_token()))
					std::abort();
				sums[size_t(i)] += reinterpret_cast<uintptr_t>(item);
			}
		});
	while (ready.load() != np + nc)
		std::this_thread::yield();
	int64_t t0 = now_ns();
	go.store(true);
	for (auto &t : th)
		t.join();
	int64_t t1 = now_ns();
	uintptr_t sum = 0;
	for (auto s : sums)
		sum += s;
	if (sum != uintptr_t(kItems) * (kItems + 1) / 2) {
		std::fprintf(stderr, "queue_bench.cc: items lost\n");
		std::exit(1);
	}
	return double(kItems) / (double(t1 - t0) / 1e3);
}

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
	while (std::fgets(line, sizeof line, f) != nullptr)
		if (std::sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    std::sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			sum += v;
	std::fclose(f);
	return sum;
}

// 64 getters on an empty queue; returns us from request_stop to the last
// return; counts their context switches for idle_ns first when asked.
double waiters_once(int64_t idle_ns, double *rate)
{
	Queue q;
	std::stop_source ss;
	std::vector<std::atomic<int>> tids(kWaiters);
	std::vector<int64_t> returned(kWaiters, 0);
	std::vector<std::thread> th;
	for (int i = 0; i < kWaiters; i++)
		th.emplace_back([&, i] {
			tids[size_t(i)].store(int(syscall(SYS_gettid)));
			void *item;
			if (q.get(item, ss.get_token()))
				std::abort();
			returned[size_t(i)] = now_ns();
		});
	for (;;) {
		int asleep = 0;
		for (auto &t : tids)
			asleep += t.load() != 0 && task_state(t.load()) == 'S';
		if (asleep == kWaiters)
			break;
		usleep(200);
	}
	if (idle_ns > 0) {
		long before = 0, after = 0;
		for (auto &t : tids)
			before += task_switches(t.load());
		int64_t t0 = now_ns();
		std::this_thread::sleep_for(std::chrono::nanoseconds(idle_ns));
		int64_t t1 = now_ns();
		for (auto &t : tids)
			after += task_switches(t.load());
		*rate = double(after - before) / (double(t1 - t0) / 1e9);
	}
	int64_t t0 = now_ns();
	ss.request_stop();
	for (auto &t : th)
		t.join();
	int64_t last = t0;
	for (auto r : returned)
		last = std::max(last, r);
	return double(last - t0) / 1e3;
}

bool wanted(const char *scenario)
{
	const char *only = std::getenv("BENCH_ONLY");
	return only == nullptr || only[0] == '\0' || std::strstr(only, scenario) != nullptr;
}

} // namespace

int main()
{
	const char *e = std::getenv("BENCH_QUICK");
	quick = e != nullptr && e[0] != '\0' && e[0] != '0';
	int reps = quick ? 3 : 11;
	const struct {
		const char *name;
		int np, nc;
	} shapes[] = {{"queue_1p1c", 1, 1}, {"queue_2p2c", 2, 2}};
	for (auto &s : shapes) {
		if (!wanted(s.name))
			continue;
		std::vector<double> v;
		for (int k = 0; k < reps; k++)
			v.push_back(throughput_once(s.np, s.nc));
		result(s.name, median(v), "Mitems/s", "higher");
	}
	if (wanted("queue_stop_64")) {
		std::vector<double> v;
		for (int k = 0; k < (quick ? 5 : 21); k++)
			v.push_back(waiters_once(0, nullptr));
		result("queue_stop_64", median(v), "us", "lower");
	}
	if (wanted("queue_idle_wakeups_64")) {
		double rate = 0;
		waiters_once(quick ? 1000000000LL : 5000000000LL, &rate);
		result("queue_idle_wakeups_64", rate, "wakeups/s", "lower");
	}
	return 0;
}
