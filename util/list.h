/* Intrusive doubly linked list (the daemon does not link libwayland, whose wl_list
 * functions live in the shared library). */
#ifndef CW_UTIL_LIST_H
#define CW_UTIL_LIST_H

#include <stddef.h>

struct cw_list {
	struct cw_list *prev, *next;
};

static inline void cw_list_init(struct cw_list *l)
{
	l->prev = l->next = l;
}

static inline void cw_list_insert_tail(struct cw_list *head, struct cw_list *elm)
{
	elm->next = head;
	elm->prev = head->prev;
	head->prev->next = elm;
	head->prev = elm;
}

static inline void cw_list_remove(struct cw_list *elm)
{
	elm->prev->next = elm->next;
	elm->next->prev = elm->prev;
	elm->prev = elm->next = elm;
}

static inline int cw_list_is_empty(const struct cw_list *l)
{
	return l->next == l;
}

#define cw_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define cw_list_for_each_safe(pos, tmp, head, member) \
	for (pos = cw_container_of((head)->next, __typeof__(*pos), member), \
	    tmp = cw_container_of(pos->member.next, __typeof__(*pos), member); \
	     &pos->member != (head); \
	     pos = tmp, tmp = cw_container_of(pos->member.next, __typeof__(*pos), member))

#endif
