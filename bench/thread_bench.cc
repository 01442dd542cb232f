// SPDX-License-Identifier: MIT
// thread_bench.cc - the C++20 std::jthread peers of thread_bench.c.
//
//  - start_stop_join: construct a std::jthread that waits on a
//    std::condition_variable_any with its stop_token, then destroy it (the
//    destructor requests the stop and joins).
//  - group_shutdown64: 64 jthreads asleep in condition_variable_any::wait
//    with their stop tokens; the time to destroy the vector holding them,
//    where each destructor requests its thread's stop and joins it, one at
//    a time.
// Each value is the median of repeated runs, in the format of bench/run.sh.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace {

constexpr int kReps = 9;
constexpr int kRounds = 1000;
constexpr int kThreads = 64;

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	return v[v.size() / 2];
}

struct Shared {
	std::mutex m;
	std::condition_variable_any cv;
	std::atomic<int> started{0};
};

void blocker(std::stop_token st, Shared *s)
{
	s->started.fetch_add(1);
	std::unique_lock lk(s->m);
	s->cv.wait(lk, st, [] { return false; });
}

double start_stop_join_us()
{
	Shared s;
	auto t0 = Clock::now();
	for (int i = 0; i < kRounds; i++) {
		std::jthread t(blocker, &s);
	} // ~jthread: request_stop() and join()
	auto dt = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
	return dt / kRounds;
}

double shutdown64_us()
{
	Shared s;
	auto *threads = new std::vector<std::jthread>();
	threads->reserve(kThreads);
	for (int i = 0; i < kThreads; i++)
		threads->emplace_back(blocker, &s);
	while (s.started.load() < kThreads)
		std::this_thread::yield();
	std::this_thread::sleep_for(std::chrono::milliseconds(20)); // setup: let them park
	auto t0 = Clock::now();
	delete threads; // each destructor requests its stop and joins, in turn
	return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

} // namespace

int main()
{
	std::vector<double> v;
	for (int r = 0; r < kReps; r++)
		v.push_back(start_stop_join_us());
	std::printf("RESULT start_stop_join jthread %.2f us lower\n", median(v));
	std::fflush(stdout);
	v.clear();
	for (int r = 0; r < kReps; r++)
		v.push_back(shutdown64_us());
	std::printf("RESULT group_shutdown64 jthread %.2f us lower\n", median(v));
	return 0;
}
