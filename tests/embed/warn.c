/* SPDX-License-Identifier: MIT */
/*
 * warn.c - code that builds in the embedding project only while grace's
 * compiler options stay in grace's own targets:
 *  - the #warning is an error under -Werror;
 *  - embed_answer has no prototype, which -Wstrict-prototypes and
 *    -Wmissing-prototypes report (tests/embed_test.sh looks for them);
 *  - _GNU_SOURCE would come from grace's definitions.
 */
#ifdef _GNU_SOURCE
#error "grace's _GNU_SOURCE reached the embedding project"
#endif

#warning "the embedding project's own warning (an error under -Werror)"

int embed_answer()
{
	return 42;
}

int embed_warn(void);

int embed_warn(void)
{
	return embed_answer();
}
