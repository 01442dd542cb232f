/* SPDX-License-Identifier: MIT */
/*
 * error.c - names for the codes grace returns.
 *
 * Two tables. First grace's own wording, for the codes a grace call answers
 * by itself and the common ones its I/O calls pass through: grace(7) lists
 * exactly these, and tests/man_test.sh checks that the header, this file
 * and the manual agree. Then a name for every other errno value the system
 * defines, so that a code an I/O call passes through (-ENOENT, -EACCES,
 * -ENETUNREACH, ...) is never "unknown error". Each name is a static
 * string: the function keeps no state and allocates nothing, so any thread
 * may call it (unlike strerror(3), which may format into a shared buffer).
 * Where the C library has strerrordesc_np (glibc 2.32 and later: static
 * strings as well), it names what the second table lacks, such as a number
 * newer than this file. Only what is no errno value at all (a positive
 * code, or one the system does not define) is "unknown error".
 */
#include "internal.h"

#include <limits.h>
#include <string.h>

const char *grace__strerror_own(int code)
{
	switch (code) {
	case 0: return "success";
	case -ECANCELED: return "stop requested";
	case -ETIMEDOUT: return "deadline passed";
	case -ESHUTDOWN: return "queue or group shut down";
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
	default: return NULL;
	}
}

/* Every errno value a system may define, in the Linux order, then those of
 * the BSDs and macOS. Names outside POSIX are compiled only where defined.
 * Aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP where they equal EAGAIN, EDEADLK,
 * EOPNOTSUPP) are harmless: the first entry with a value wins. */
static const struct {
	int code;
	const char *text;
} sys_names[] = {
	{EPERM, "operation not permitted"},
	{ENOENT, "no such file or directory"},
	{ESRCH, "no such process"},
	{EINTR, "interrupted by a signal"},
	{EIO, "input/output error"},
	{ENXIO, "no such device or address"},
	{E2BIG, "argument list too long"},
	{ENOEXEC, "not an executable format"},
	{EBADF, "bad file descriptor"},
	{ECHILD, "no child processes"},
	{EAGAIN, "resource temporarily unavailable"},
	{ENOMEM, "out of memory"},
	{EACCES, "permission denied"},
	{EFAULT, "bad address"},
#ifdef ENOTBLK
	{ENOTBLK, "not a block device"},
#endif
	{EBUSY, "device or resource busy"},
	{EEXIST, "already exists"},
	{EXDEV, "cross-device link"},
	{ENODEV, "no such device"},
	{ENOTDIR, "not a directory"},
	{EISDIR, "is a directory"},
	{EINVAL, "invalid argument"},
	{ENFILE, "too many open files in the system"},
	{EMFILE, "too many open files"},
	{ENOTTY, "inappropriate ioctl for the device"},
	{ETXTBSY, "text file busy"},
	{EFBIG, "file too large"},
	{ENOSPC, "no space left on the device"},
	{ESPIPE, "illegal seek"},
	{EROFS, "read-only file system"},
	{EMLINK, "too many links"},
	{EPIPE, "broken pipe"},
	{EDOM, "argument out of the function's domain"},
	{ERANGE, "result out of range"},
	{EDEADLK, "resource deadlock would occur"},
	{ENAMETOOLONG, "file name too long"},
	{ENOLCK, "no locks available"},
	{ENOSYS, "function not implemented"},
	{ENOTEMPTY, "directory not empty"},
	{ELOOP, "too many levels of symbolic links"},
	{EWOULDBLOCK, "operation would block"},
	{ENOMSG, "no message of the desired type"},
	{EIDRM, "identifier removed"},
#ifdef ECHRNG
	{ECHRNG, "channel number out of range"},
#endif
#ifdef EL2NSYNC
	{EL2NSYNC, "level 2 not synchronized"},
#endif
#ifdef EL3HLT
	{EL3HLT, "level 3 halted"},
#endif
#ifdef EL3RST
	{EL3RST, "level 3 reset"},
#endif
#ifdef ELNRNG
	{ELNRNG, "link number out of range"},
#endif
#ifdef EUNATCH
	{EUNATCH, "protocol driver not attached"},
#endif
#ifdef ENOCSI
	{ENOCSI, "no CSI structure available"},
#endif
#ifdef EL2HLT
	{EL2HLT, "level 2 halted"},
#endif
#ifdef EBADE
	{EBADE, "invalid exchange"},
#endif
#ifdef EBADR
	{EBADR, "invalid request descriptor"},
#endif
#ifdef EXFULL
	{EXFULL, "exchange full"},
#endif
#ifdef ENOANO
	{ENOANO, "no anode"},
#endif
#ifdef EBADRQC
	{EBADRQC, "invalid request code"},
#endif
#ifdef EBADSLT
	{EBADSLT, "invalid slot"},
#endif
#ifdef EDEADLOCK
	{EDEADLOCK, "resource deadlock would occur"},
#endif
#ifdef EBFONT
	{EBFONT, "bad font file format"},
#endif
#ifdef ENOSTR
	{ENOSTR, "not a stream"},
#endif
#ifdef ENODATA
	{ENODATA, "no data available"},
#endif
#ifdef ETIME
	{ETIME, "timer expired"},
#endif
#ifdef ENOSR
	{ENOSR, "out of stream resources"},
#endif
#ifdef ENONET
	{ENONET, "machine is not on the network"},
#endif
#ifdef ENOPKG
	{ENOPKG, "package not installed"},
#endif
#ifdef EREMOTE
	{EREMOTE, "object is remote"},
#endif
	{ENOLINK, "link has been severed"},
#ifdef EADV
	{EADV, "advertise error"},
#endif
#ifdef ESRMNT
	{ESRMNT, "srmount error"},
#endif
#ifdef ECOMM
	{ECOMM, "communication error on send"},
#endif
	{EPROTO, "protocol error"},
	{EMULTIHOP, "multihop attempted"},
#ifdef EDOTDOT
	{EDOTDOT, "RFS-specific error"},
#endif
	{EBADMSG, "bad message"},
	{EOVERFLOW, "value too large for its data type"},
#ifdef ENOTUNIQ
	{ENOTUNIQ, "name not unique on the network"},
#endif
#ifdef EBADFD
	{EBADFD, "file descriptor in a bad state"},
#endif
#ifdef EREMCHG
	{EREMCHG, "remote address changed"},
#endif
#ifdef ELIBACC
	{ELIBACC, "cannot access a needed shared library"},
#endif
#ifdef ELIBBAD
	{ELIBBAD, "accessing a corrupted shared library"},
#endif
#ifdef ELIBSCN
	{ELIBSCN, ".lib section in a.out corrupted"},
#endif
#ifdef ELIBMAX
	{ELIBMAX, "too many shared libraries to link in"},
#endif
#ifdef ELIBEXEC
	{ELIBEXEC, "cannot run a shared library directly"},
#endif
	{EILSEQ, "invalid or incomplete multibyte character"},
#ifdef ERESTART
	{ERESTART, "interrupted system call should be restarted"},
#endif
#ifdef ESTRPIPE
	{ESTRPIPE, "streams pipe error"},
#endif
#ifdef EUSERS
	{EUSERS, "too many users"},
#endif
	{ENOTSOCK, "not a socket"},
	{EDESTADDRREQ, "destination address required"},
	{EMSGSIZE, "message too long"},
	{EPROTOTYPE, "wrong protocol type for the socket"},
	{ENOPROTOOPT, "protocol option not available"},
	{EPROTONOSUPPORT, "protocol not supported"},
#ifdef ESOCKTNOSUPPORT
	{ESOCKTNOSUPPORT, "socket type not supported"},
#endif
	{EOPNOTSUPP, "operation not supported"},
	{ENOTSUP, "not supported"},
#ifdef EPFNOSUPPORT
	{EPFNOSUPPORT, "protocol family not supported"},
#endif
	{EAFNOSUPPORT, "address family not supported"},
	{EADDRINUSE, "address in use"},
	{EADDRNOTAVAIL, "address not available"},
	{ENETDOWN, "network is down"},
	{ENETUNREACH, "network unreachable"},
	{ENETRESET, "connection reset by the network"},
	{ECONNABORTED, "connection aborted"},
	{ECONNRESET, "connection reset by peer"},
	{ENOBUFS, "no buffer space available"},
	{EISCONN, "socket already connected"},
	{ENOTCONN, "not connected"},
#ifdef ESHUTDOWN
	{ESHUTDOWN, "cannot send after the socket was shut down"},
#endif
#ifdef ETOOMANYREFS
	{ETOOMANYREFS, "too many references"},
#endif
	{ETIMEDOUT, "connection timed out"},
	{ECONNREFUSED, "connection refused"},
#ifdef EHOSTDOWN
	{EHOSTDOWN, "host is down"},
#endif
	{EHOSTUNREACH, "host unreachable"},
	{EALREADY, "operation already in progress"},
	{EINPROGRESS, "operation in progress"},
	{ESTALE, "stale file handle"},
#ifdef EUCLEAN
	{EUCLEAN, "structure needs cleaning"},
#endif
#ifdef ENOTNAM
	{ENOTNAM, "not a XENIX named type file"},
#endif
#ifdef ENAVAIL
	{ENAVAIL, "no XENIX semaphores available"},
#endif
#ifdef EISNAM
	{EISNAM, "is a named type file"},
#endif
#ifdef EREMOTEIO
	{EREMOTEIO, "remote input/output error"},
#endif
	{EDQUOT, "disk quota exceeded"},
#ifdef ENOMEDIUM
	{ENOMEDIUM, "no medium found"},
#endif
#ifdef EMEDIUMTYPE
	{EMEDIUMTYPE, "wrong medium type"},
#endif
	{ECANCELED, "operation canceled"},
#ifdef ENOKEY
	{ENOKEY, "required key not available"},
#endif
#ifdef EKEYEXPIRED
	{EKEYEXPIRED, "key has expired"},
#endif
#ifdef EKEYREVOKED
	{EKEYREVOKED, "key has been revoked"},
#endif
#ifdef EKEYREJECTED
	{EKEYREJECTED, "key was rejected by the service"},
#endif
	{EOWNERDEAD, "previous owner died"},
	{ENOTRECOVERABLE, "state not recoverable"},
#ifdef ERFKILL
	{ERFKILL, "operation not possible because of RF-kill"},
#endif
#ifdef EHWPOISON
	{EHWPOISON, "memory page has a hardware error"},
#endif
#ifdef EAUTH
	{EAUTH, "authentication error"},
#endif
#ifdef ENEEDAUTH
	{ENEEDAUTH, "authentication needed"},
#endif
#ifdef EFTYPE
	{EFTYPE, "inappropriate file type or format"},
#endif
#ifdef EPROCLIM
	{EPROCLIM, "too many processes"},
#endif
#ifdef EBADRPC
	{EBADRPC, "RPC struct is bad"},
#endif
#ifdef ERPCMISMATCH
	{ERPCMISMATCH, "RPC version wrong"},
#endif
#ifdef EPROGUNAVAIL
	{EPROGUNAVAIL, "RPC program not available"},
#endif
#ifdef EPROGMISMATCH
	{EPROGMISMATCH, "program version wrong"},
#endif
#ifdef EPROCUNAVAIL
	{EPROCUNAVAIL, "bad procedure for program"},
#endif
#ifdef ENOATTR
	{ENOATTR, "attribute not found"},
#endif
#ifdef EDOOFUS
	{EDOOFUS, "programming error"},
#endif
#ifdef ENOTCAPABLE
	{ENOTCAPABLE, "capabilities insufficient"},
#endif
#ifdef ECAPMODE
	{ECAPMODE, "not permitted in capability mode"},
#endif
#ifdef EINTEGRITY
	{EINTEGRITY, "integrity check failed"},
#endif
#ifdef EBADARCH
	{EBADARCH, "bad CPU type in executable"},
#endif
#ifdef EBADEXEC
	{EBADEXEC, "bad executable"},
#endif
#ifdef EBADMACHO
	{EBADMACHO, "malformed Mach-o file"},
#endif
#ifdef EDEVERR
	{EDEVERR, "device error"},
#endif
#ifdef EPWROFF
	{EPWROFF, "device power is off"},
#endif
#ifdef ESHLIBVERS
	{ESHLIBVERS, "shared library version mismatch"},
#endif
#ifdef EQFULL
	{EQFULL, "interface output queue is full"},
#endif
};

const char *grace_strerror(int code)
{
	const char *own = grace__strerror_own(code);
	if (own != NULL)
		return own;
	if (code >= 0 || code == INT_MIN)
		return "unknown error";
	for (size_t i = 0; i < sizeof sys_names / sizeof sys_names[0]; i++)
		if (sys_names[i].code == -code)
			return sys_names[i].text;
#ifdef HAVE_STRERRORDESC_NP
	const char *d = strerrordesc_np(-code);
	if (d != NULL)
		return d;
#endif
	return "unknown error";
}
