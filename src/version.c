/* SPDX-License-Identifier: MIT */
/*
 * version.c - grace_version: the version of the library a program runs
 * with, which a program linked against a shared library may compare with
 * the GRACE_VERSION_* macros it was compiled with.
 */
#include "internal.h"

const char *grace_version(void)
{
	return GRACE_VERSION_STRING;
}
