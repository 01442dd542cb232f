/*
 * error.c - names for the codes grace returns. Every code a grace call can
 * answer by itself is named here; tests/error_test.c checks that the names,
 * the header and the man pages agree.
 */
#include "internal.h"

#include <string.h>

const char *grace_strerror(int code)
{
	switch (code) {
	case 0: return "success";
	case -ECANCELED: return "stop requested";
	case -ETIMEDOUT: return "deadline passed";
	case -ESHUTDOWN: return "queue shut down";
	case -EINVAL: return "invalid argument or state";
	case -EBUSY: return "still in use";
	case -ENOMEM: return "out of memory";
	case -EAGAIN: return "resource temporarily unavailable";
	case -EBADF: return "bad file descriptor";
	case -EIO: return "input/output error";
	case -ENOSYS: return "not supported by the system";
	case -EPIPE: return "broken pipe";
	case -ECONNRESET: return "connection reset by peer";
	case -ECONNREFUSED: return "connection refused";
	case -EMFILE: return "too many open files";
	case -ENFILE: return "too many open files in the system";
	case -ENOTSOCK: return "not a socket";
	case -ECONNABORTED: return "connection aborted";
	case -ENOTCONN: return "not connected";
	case -EADDRINUSE: return "address in use";
	case -EPERM: return "operation not permitted";
	default: return "unknown error";
	}
}
