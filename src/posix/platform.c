/* SPDX-License-Identifier: MIT */
/*
 * posix/platform.c - the portable platform: the lot engine (src/lot.c) for
 * word waits and the clock, a pipe for wake descriptors. Nothing here
 * needs more than POSIX; pipe2 (POSIX 2024, and every current Unix) is used
 * where CMake finds it (HAVE_PIPE2).
 */
#include "../platform.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

_Atomic(const struct grace__engine *) grace__engine = &grace__lot_engine;

const struct grace__engine *grace__os_engine(void)
{
	return &grace__lot_engine;
}

/* A pipe whose ends are non-blocking and close-on-exec from the start:
 * pipe2 sets both flags atomically, so a fork+exec in another thread never
 * sees the descriptors without FD_CLOEXEC. Without pipe2 the flags follow
 * pipe(2), and a child cloned in between keeps the ends across exec. */
#ifndef HAVE_PIPE2
static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}
#endif

int grace__os_wakefd_open(int fds[2])
{
	int p[2];
#ifdef HAVE_PIPE2
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
#else
	if (pipe(p) < 0)
		return -errno;
	int r = set_flags(p[0]);
	if (r == 0)
		r = set_flags(p[1]);
	if (r < 0) {
		close(p[0]);
		close(p[1]);
		return r;
	}
#endif
	fds[0] = p[0];
	fds[1] = p[1];
	return 0;
}

void grace__os_wakefd_signal(const int fds[2])
{
	char c = 1;
	ssize_t n;
	do
		n = write(fds[1], &c, 1);
	while (n < 0 && errno == EINTR);
}
