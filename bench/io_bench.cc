// SPDX-License-Identifier: MIT
// io_bench.cc - the C++20 peer of io_bench.c: 64 std::jthreads blocked in
// poll(2) on a socket and on the read end of a wake pipe; a
// std::stop_callback writes one byte into the pipe when the stop_source is
// requested. Measures request -> the last thread has returned (median of
// repeated runs), as io_bench.c does for grace_recv.
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 64;
constexpr int kRuns = 21;

using Clock = std::chrono::steady_clock;

bool asleep(pid_t tid)
{
	std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
	std::string s;
	if (!f || !std::getline(f, s))
		return true;
	return !s.empty() && s[0] >= '0' && s[0] <= '9';
}

struct Blocked {
	int fd = -1;
	std::atomic<pid_t> tid{0};
	Clock::time_point returned;
	bool stopped = false;
};

double stop_once(std::vector<std::array<int, 2>> &sp)
{
	int wake[2];
	if (pipe(wake) != 0)
		std::exit(1);
	std::stop_source src;
	std::stop_callback cb(src.get_token(), [&] {
		char c = 1;
		if (write(wake[1], &c, 1) != 1)
			std::exit(1);
	});
	std::vector<Blocked> b(kThreads);
	std::vector<std::jthread> t;
	t.reserve(kThreads);
	for (int i = 0; i < kThreads; i++) {
		b[i].fd = sp[i][0];
		t.emplace_back([&, i](std::stop_token) {
			b[i].tid = static_cast<pid_t>(syscall(SYS_gettid));
			pollfd p[2] = {{b[i].fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
			for (;;) {
				if (poll(p, 2, -1) < 0)
					continue;
				if (p[1].revents) {
					b[i].stopped = true;
					break;
				}
				if (p[0].revents) {
					char buf[16];
					if (recv(b[i].fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
						break;
				}
			}
			b[i].returned = Clock::now();
		});
	}
	for (auto &x : b)
		while (x.tid.load() == 0 || !asleep(x.tid.load()))
			sched_yield();
	auto t0 = Clock::now();
	src.request_stop();
	auto last = t0;
	for (int i = 0; i < kThreads; i++) {
		t[i].join();
		if (!b[i].stopped)
			std::exit(1);
		last = std::max(last, b[i].returned);
	}
	close(wake[0]);
	close(wake[1]);
	return std::chrono::duration<double, std::micro>(last - t0).count();
}

} // namespace

int main()
{
	std::vector<std::array<int, 2>> sp(kThreads);
	for (auto &p : sp)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p.data()) != 0)
			return 1;
	std::vector<double> v;
	for (int r = 0; r < kRuns; r++)
		v.push_back(stop_once(sp));
	std::sort(v.begin(), v.end());
	std::printf("RESULT stop_64_blocked cpp20_pipe_wake %.1f us lower\n", v[v.size() / 2]);
	return 0;
}
