/* SPDX-License-Identifier: MIT */
/*
 * list.h - the one intrusive doubly-linked list that grace's parts share.
 *
 * An element embeds a `struct grace__link`; a list is a `struct
 * grace__list` (first and last). Both ends end in NULL rather than a
 * sentinel, so zeroed memory (calloc, static storage) is an empty list and
 * needs no init call. Insertion and removal are constant time and allocate
 * nothing; removal needs the list, which every caller has at hand. Get the
 * element back with grace__container_of. The list keeps no lock: each user
 * says which of its locks guards it. A link not in a list has no meaning
 * (the list cannot tell): a user that must know keeps its own flag.
 * Included by internal.h, whose GRACE_ASSERT checks every removal in debug
 * builds (grace__list_linked).
 */
#ifndef GRACE_LIST_H
#define GRACE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct grace__link {
	struct grace__link *next, *prev;
};

struct grace__list {
	struct grace__link *first, *last;
};

/* The element of type `type` whose member `member` is the link `p`. */
/* clang-format off */
#define grace__container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))
/* clang-format on */

static inline bool grace__list_empty(const struct grace__list *l)
{
	return l->first == NULL;
}

/* Insert n before pos, which is in l; pos NULL: at the tail. */
static inline void grace__list_insert_before(struct grace__list *l, struct grace__link *pos,
                                             struct grace__link *n)
{
	struct grace__link *prev = pos != NULL ? pos->prev : l->last;
	n->next = pos;
	n->prev = prev;
	if (prev != NULL)
		prev->next = n;
	else
		l->first = n;
	if (pos != NULL)
		pos->prev = n;
	else
		l->last = n;
}

static inline void grace__list_insert_head(struct grace__list *l, struct grace__link *n)
{
	grace__list_insert_before(l, l->first, n);
}

static inline void grace__list_insert_tail(struct grace__list *l, struct grace__link *n)
{
	grace__list_insert_before(l, NULL, n);
}

/* Whether n is linked into l, as far as its neighbours can tell: each side
 * of it is either the end of l or a link that points back at it. A link
 * removed already, never inserted, or at an end of another list fails it.
 * Constant time: for debug checks. */
static inline bool grace__list_linked(const struct grace__list *l, const struct grace__link *n)
{
	return (n->prev != NULL ? n->prev->next == n : l->first == n) &&
	       (n->next != NULL ? n->next->prev == n : l->last == n);
}

/* Take n, which is in l, out of it. */
static inline void grace__list_remove(struct grace__list *l, struct grace__link *n)
{
	GRACE_ASSERT(grace__list_linked(l, n));
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		l->first = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		l->last = n->prev;
	n->next = n->prev = NULL;
}

/* Visit each link `it` of l, first to last. The body must not remove `it`. */
#define grace__list_for_each(l, it) for ((it) = (l)->first; (it) != NULL; (it) = (it)->next)

/* The same, reading the next link into `nx` first: the body may remove or
 * free `it` (not `nx`). */
#define grace__list_for_each_safe(l, it, nx) \
	for ((it) = (l)->first; (it) != NULL && ((nx) = (it)->next, true); (it) = (nx))

#endif /* GRACE_LIST_H */
