/* SPDX-License-Identifier: MIT */
/*
 * wakefd.c - the part of wake descriptors both platforms share: closing
 * one (an eventfd is one descriptor in both slots, a pipe two).
 */
#include "../platform.h"

#include <unistd.h>

void grace__os_wakefd_close(int fds[2])
{
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0 && fds[1] != fds[0])
		close(fds[1]);
	fds[0] = fds[1] = -1;
}
