/* SPDX-License-Identifier: MIT */
/*
 * errname.c - a helper of tests/man_test.sh: tells which error codes
 * grace_strerror() gives grace's own wording (the codes grace answers by
 * itself and the common ones it passes through; every other errno value is
 * named after the system), so the test can check that the manual lists no
 * code without that wording, and grace(7) every code with it.
 *
 *   errname              print every errno name with grace's own wording
 *   errname EINVAL ...   print each name's string; fail if one lacks it
 */
#include "grace.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define E(name) {#name, name}
static const struct {
	const char *name;
	int code;
} names[] = {
	E(E2BIG), E(EACCES), E(EADDRINUSE), E(EADDRNOTAVAIL), E(EAFNOSUPPORT), E(EAGAIN), E(EALREADY),
	E(EBADF), E(EBUSY), E(ECANCELED), E(ECHILD), E(ECONNABORTED), E(ECONNREFUSED), E(ECONNRESET),
	E(EDEADLK), E(EDESTADDRREQ), E(EDOM), E(EEXIST), E(EFAULT), E(EFBIG), E(EHOSTUNREACH), E(EINPROGRESS),
	E(EINTR), E(EINVAL), E(EIO), E(EISCONN), E(EISDIR), E(ELOOP), E(EMFILE), E(EMSGSIZE), E(ENAMETOOLONG),
	E(ENETDOWN), E(ENETUNREACH), E(ENFILE), E(ENOBUFS), E(ENODEV), E(ENOENT), E(ENOMEM), E(ENOSPC),
	E(ENOSYS), E(ENOTCONN), E(ENOTDIR), E(ENOTSOCK), E(ENOTSUP), E(ENXIO), E(EOVERFLOW), E(EPERM),
	E(EPIPE), E(EPROTO), E(ERANGE), E(EROFS), E(ESHUTDOWN), E(ESPIPE), E(ESRCH), E(ETIMEDOUT),
	E(ETXTBSY), E(EXDEV),
};
#define COUNT (sizeof names / sizeof names[0])

static int known(int code)
{
	return grace__strerror_own(-code) != NULL;
}

int main(int argc, char **argv)
{
	int bad = 0;
	if (argc == 1) {
		for (size_t i = 0; i < COUNT; i++)
			if (known(names[i].code))
				printf("%s\n", names[i].name);
		return 0;
	}
	for (int a = 1; a < argc; a++) {
		size_t i = 0;
		while (i < COUNT && strcmp(names[i].name, argv[a]) != 0)
			i++;
		if (i == COUNT) {
			printf("%s: not an errno name this helper knows\n", argv[a]);
			bad = 1;
		} else if (!known(names[i].code)) {
			printf("%s: grace_strerror does not name it in its own words\n", argv[a]);
			bad = 1;
		} else {
			printf("%s: %s\n", argv[a], grace_strerror(-names[i].code));
		}
	}
	return bad;
}
