// SPDX-License-Identifier: MIT
// cond_bench.cc - grace_cond and word waits against the C++ peers, each
// scenario's peers taking turns in one process, round after round, so that
// a noisy moment on the machine hits them alike.
//
// Scenarios (bench/README.md has the rules):
//   cond_ring_1p1c, cond_ring_2p2c  Mitems/s through a bounded ring of 64
//       slots written the way a user writes it: one mutex, two condition
//       variables, a while loop around each wait, the signal made with the
//       mutex held. Peers: grace (pthread_mutex_t and two grace_conds, each
//       wait with a live stop), pthread_cond (the same with pthread_cond_t),
//       cxx_cv_any_stop_token (std::mutex and std::condition_variable_any
//       waiting with a std::stop_token), boost_interruptible (boost::mutex
//       and boost::condition_variable in boost::threads, whose waits are
//       interruption points; built only where Boost.Thread is found).
//   word_pingpong  us per round trip of two threads handing a counter word
//       back and forth: grace_wait_word/grace_wake_word (with a live stop)
//       against std::atomic<uint32_t>::wait/notify_one.
//
// After its own run the program re-executes itself once with
// GRACE_NO_FUTEX_WAITV=1 and measures the grace peers again as
// grace_fallback; BENCH_FALLBACK=0 skips that. BENCH_QUICK=1 shortens every
// phase; arguments, if any, name the scenarios to run. Each RESULT is the
// median of the rounds; a SPREAD line gives the minimum, quartiles and
// maximum, and a RATIO line each peer's median over grace's.

#include <algorithm>
#include <atomic>
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
#include <time.h>
#include <unistd.h>

#ifdef HAVE_BOOST_THREAD
#include <boost/thread/condition_variable.hpp>
#include <boost/thread/mutex.hpp>
#include <boost/thread/thread.hpp>
#endif

#include "grace.h"

namespace {

bool quick;
bool fallback; // re-executed with GRACE_NO_FUTEX_WAITV=1: grace peers only
std::vector<std::string> filters;

int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool wanted(const char *scenario)
{
	return filters.empty() || std::find(filters.begin(), filters.end(), scenario) != filters.end();
}

struct Series {
	std::string peer;
	std::vector<double> v;
	double median() const
	{
		std::vector<double> s = v;
		std::sort(s.begin(), s.end());
		size_t n = s.size();
		return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	}
};

void report(const char *scenario, std::vector<Series> &all, const char *unit, const char *better)
{
	for (auto &s : all) {
		std::vector<double> v = s.v;
		std::sort(v.begin(), v.end());
		size_t n = v.size();
		std::printf("SPREAD %s %s min %.3f q1 %.3f median %.3f q3 %.3f max %.3f (%zu runs)\n", scenario,
		            s.peer.c_str(), v[0], v[n / 4], s.median(), v[(3 * n) / 4], v[n - 1], n);
	}
	for (auto &s : all)
		std::printf("RESULT %s %s %.3f %s %s\n", scenario, s.peer.c_str(), s.median(), unit, better);
	double g = all[0].median();
	for (size_t i = 1; i < all.size(); i++)
		std::printf("RATIO %s %s/%s %.3f\n", scenario, all[i].peer.c_str(), all[0].peer.c_str(),
		            all[i].median() / g);
	std::fflush(stdout);
}

// ---- the ring ----

constexpr unsigned CAP = 64;

struct Slots {
	uint64_t slot[CAP];
	unsigned head = 0, count = 0;
	void push(uint64_t v)
	{
		slot[(head + count) % CAP] = v;
		count++;
	}
	uint64_t pop()
	{
		uint64_t v = slot[head];
		head = (head + 1) % CAP;
		count--;
		return v;
	}
};

struct GraceRing : Slots {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	grace_cond not_empty = GRACE_COND_INIT, not_full = GRACE_COND_INIT;
	grace_stop *stop = nullptr;
	GraceRing()
	{
		if (grace_stop_new(&stop, nullptr) != 0)
			std::abort();
	}
	~GraceRing() { grace_stop_free(stop); }
	void put(uint64_t v)
	{
		pthread_mutex_lock(&m);
		while (count == CAP)
			if (grace_cond_wait(&not_full, &m, stop, GRACE_FOREVER) != 0)
				std::abort();
		push(v);
		grace_cond_signal(&not_empty);
		pthread_mutex_unlock(&m);
	}
	uint64_t get()
	{
		pthread_mutex_lock(&m);
		while (count == 0)
			if (grace_cond_wait(&not_empty, &m, stop, GRACE_FOREVER) != 0)
				std::abort();
		uint64_t v = pop();
		grace_cond_signal(&not_full);
		pthread_mutex_unlock(&m);
		return v;
	}
};

struct PthreadRing : Slots {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
	void put(uint64_t v)
	{
		pthread_mutex_lock(&m);
		while (count == CAP)
			pthread_cond_wait(&not_full, &m);
		push(v);
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&m);
	}
	uint64_t get()
	{
		pthread_mutex_lock(&m);
		while (count == 0)
			pthread_cond_wait(&not_empty, &m);
		uint64_t v = pop();
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&m);
		return v;
	}
};

struct CvAnyRing : Slots {
	std::mutex m;
	std::condition_variable_any not_empty, not_full;
	std::stop_source src;
	void put(uint64_t v)
	{
		std::unique_lock<std::mutex> lk(m);
		if (!not_full.wait(lk, src.get_token(), [&] { return count < CAP; }))
			std::abort();
		push(v);
		not_empty.notify_one();
	}
	uint64_t get()
	{
		std::unique_lock<std::mutex> lk(m);
		if (!not_empty.wait(lk, src.get_token(), [&] { return count > 0; }))
			std::abort();
		uint64_t v = pop();
		not_full.notify_one();
		return v;
	}
};

#ifdef HAVE_BOOST_THREAD
struct BoostRing : Slots {
	boost::mutex m;
	boost::condition_variable not_empty, not_full;
	void put(uint64_t v)
	{
		boost::unique_lock<boost::mutex> lk(m);
		while (count == CAP)
			not_full.wait(lk); // an interruption point in a boost::thread
		push(v);
		not_empty.notify_one();
	}
	uint64_t get()
	{
		boost::unique_lock<boost::mutex> lk(m);
		while (count == 0)
			not_empty.wait(lk);
		uint64_t v = pop();
		not_full.notify_one();
		return v;
	}
};
#endif

// std::thread for every ring but Boost's, whose waits are interruptible
// only in a boost::thread.
template <class R> struct Threads {
	std::vector<std::thread> t;
	template <class F> void spawn(F f) { t.emplace_back(f); }
	void join()
	{
		for (auto &x : t)
			x.join();
	}
};

#ifdef HAVE_BOOST_THREAD
template <> struct Threads<BoostRing> {
	std::vector<boost::thread *> t;
	template <class F> void spawn(F f) { t.push_back(new boost::thread(f)); }
	void join()
	{
		for (auto *x : t) {
			x->join();
			delete x;
		}
	}
};
#endif

// Mitems/s for `items` items through np producers and as many consumers;
// every item is counted and summed, and a mismatch aborts.
template <class R> double ring_once(int np, long items)
{
	R *r = new R;
	std::atomic<uint64_t> sum{0};
	long per = items / np;
	Threads<R> th;
	int64_t t0 = now_ns();
	for (int p = 0; p < np; p++) {
		th.spawn([r, per, p] {
			for (long i = 0; i < per; i++)
				r->put(uint64_t(p) << 32 | uint64_t(i));
		});
		th.spawn([r, per, &sum] {
			uint64_t s = 0;
			for (long i = 0; i < per; i++)
				s += r->get();
			sum += s;
		});
	}
	th.join();
	int64_t t1 = now_ns();
	uint64_t want = 0;
	for (int p = 0; p < np; p++)
		want += uint64_t(per) * (uint64_t(p) << 32) + uint64_t(per) * uint64_t(per - 1) / 2;
	if (sum.load() != want || r->count != 0) {
		std::fprintf(stderr, "cond_bench: ring lost items\n");
		std::exit(1);
	}
	delete r;
	return double(per * np) / (double(t1 - t0) / 1e9) / 1e6;
}

void bench_ring(const char *scenario, int np)
{
	long items = quick ? 200000 : 1000000;
	int rounds = quick ? 5 : 9;
	std::vector<Series> all;
	std::vector<double (*)(int, long)> fns;
	all.push_back({fallback ? "grace_fallback" : "grace", {}});
	fns.push_back(ring_once<GraceRing>);
	if (!fallback) {
		all.push_back({"pthread_cond", {}});
		fns.push_back(ring_once<PthreadRing>);
		all.push_back({"cxx_cv_any_stop_token", {}});
		fns.push_back(ring_once<CvAnyRing>);
#ifdef HAVE_BOOST_THREAD
		all.push_back({"boost_interruptible", {}});
		fns.push_back(ring_once<BoostRing>);
#endif
	}
	for (int k = 0; k < rounds; k++)
		for (size_t j = 0; j < fns.size(); j++) {
			// Rotate which peer goes first each round.
			size_t p = (j + size_t(k)) % fns.size();
			all[p].v.push_back(fns[p](np, items));
		}
	report(scenario, all, "Mitems/s", "higher");
}

// ---- word ping-pong ----

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "an atomic word is a plain word");

struct GraceWord {
	grace_stop *stop = nullptr;
	GraceWord()
	{
		if (grace_stop_new(&stop, nullptr) != 0)
			std::abort();
	}
	~GraceWord() { grace_stop_free(stop); }
	void wait(std::atomic<uint32_t> &w, uint32_t v)
	{
		if (grace_wait_word(reinterpret_cast<const uint32_t *>(&w), v, stop, GRACE_FOREVER) != 0)
			std::abort();
	}
	void wake(std::atomic<uint32_t> &w) { grace_wake_word(reinterpret_cast<const uint32_t *>(&w), 1); }
};

struct CxxWord {
	void wait(std::atomic<uint32_t> &w, uint32_t v) { w.wait(v); }
	void wake(std::atomic<uint32_t> &w) { w.notify_one(); }
};

// Side A makes the counter odd, side B even; each waits for its turn.
template <class W> double wpp_once(long rounds)
{
	W k;
	std::atomic<uint32_t> w{0};
	std::thread b([&] {
		for (long i = 0; i < rounds; i++) {
			uint32_t want = uint32_t(2 * i + 1), v;
			while ((v = w.load()) != want)
				k.wait(w, v);
			w.store(want + 1);
			k.wake(w);
		}
	});
	int64_t t0 = now_ns();
	for (long i = 0; i < rounds; i++) {
		uint32_t want = uint32_t(2 * i + 2), v;
		w.store(want - 1);
		k.wake(w);
		while ((v = w.load()) != want)
			k.wait(w, v);
	}
	int64_t t1 = now_ns();
	b.join();
	return double(t1 - t0) / 1000.0 / double(rounds);
}

void bench_word()
{
	long rounds = quick ? 5000 : 20000;
	int reps = quick ? 5 : 15;
	std::vector<Series> all;
	all.push_back({fallback ? "grace_fallback" : "grace", {}});
	if (!fallback)
		all.push_back({"cxx_atomic_wait", {}});
	for (int k = 0; k < reps; k++) {
		// Alternate which peer goes first.
		if (!fallback && k % 2 == 1)
			all[1].v.push_back(wpp_once<CxxWord>(rounds));
		all[0].v.push_back(wpp_once<GraceWord>(rounds));
		if (!fallback && k % 2 == 0)
			all[1].v.push_back(wpp_once<CxxWord>(rounds));
	}
	report("word_pingpong", all, "us", "lower");
}

} // namespace

int main(int argc, char **argv)
{
	const char *q = std::getenv("BENCH_QUICK");
	quick = q != nullptr && q[0] != '\0' && q[0] != '0';
	const char *fb = std::getenv("GRACE_NO_FUTEX_WAITV");
	fallback = fb != nullptr && fb[0] != '\0' && fb[0] != '0';
	for (int i = 1; i < argc; i++)
		filters.push_back(argv[i]);
#ifndef HAVE_BOOST_THREAD
	if (!fallback)
		std::fprintf(stderr, "cond_bench: Boost.Thread not found at build time: no boost_interruptible peer\n");
#endif

	if (wanted("cond_ring_1p1c"))
		bench_ring("cond_ring_1p1c", 1);
	if (wanted("cond_ring_2p2c"))
		bench_ring("cond_ring_2p2c", 2);
	if (wanted("word_pingpong"))
		bench_word();

	const char *again = std::getenv("BENCH_FALLBACK");
	if (!fallback && (again == nullptr || again[0] != '0')) {
		std::fflush(stdout);
		setenv("GRACE_NO_FUTEX_WAITV", "1", 1);
		execv("/proc/self/exe", argv);
		std::perror("execv");
		return 1;
	}
	return 0;
}
