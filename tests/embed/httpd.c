/* SPDX-License-Identifier: MIT */
/*
 * httpd.c - the embedding project's own program named httpd (as grace's
 * example is), linked with the shared library (grace::grace_shared).
 */
#include <grace.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

int embed_warn(void);

int main(void)
{
	const char *s = grace_strerror(-ETIMEDOUT);

	if (s == NULL || strlen(s) == 0)
		return 1;
	printf("embed httpd: grace %s, %s, %d\n", GRACE_VERSION_STRING, s, embed_warn());
	return 0;
}
