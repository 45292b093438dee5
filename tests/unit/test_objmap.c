/* Id tables: the peer's new ids follow libwayland's rules, our own ids are reused
 * LIFO, the two ranges stay apart, and objects are recycled. */
#include <errno.h>

#include "proxy/objmap.h"
#include "proxy/wire.h"
#include "test.h"

static int n_run;

static void test_peer_ids_cannot_skip_ahead(void)
{
	struct cw_idmap m;
	struct cw_object a = { 0 }, b = { 0 };
	cw_idmap_init(&m);
	test_assert(cw_idmap_insert_at(&m, 0, &a, false) == -1 && errno == EINVAL);
	test_assert(cw_idmap_insert_at(&m, 2, &a, false) == -1); /* 1 not used yet */
	test_assert(cw_idmap_insert_at(&m, 1, &a, false) == 0);
	test_assert(cw_idmap_insert_at(&m, 1, &b, false) == -1); /* occupied */
	test_assert(cw_idmap_insert_at(&m, 3, &b, false) == -1);
	test_assert(cw_idmap_insert_at(&m, 2, &b, false) == 0);
	test_assert(cw_idmap_find(&m, 1) == &a && cw_idmap_find(&m, 2) == &b);
	test_assert(cw_idmap_find(&m, 3) == NULL && cw_idmap_find(&m, 1000000) == NULL);
	/* A freed slot can be taken again; replace overwrites. */
	cw_idmap_remove(&m, 1, false);
	test_assert(cw_idmap_find(&m, 1) == NULL);
	test_assert(cw_idmap_insert_at(&m, 1, &b, false) == 0);
	test_assert(cw_idmap_insert_at(&m, 1, &a, true) == 0 && cw_idmap_find(&m, 1) == &a);
	/* Server range: starts at 0xff000000, same rules. */
	test_assert(cw_idmap_insert_at(&m, CW_SERVER_ID_START + 1, &a, false) == -1);
	test_assert(cw_idmap_insert_at(&m, CW_SERVER_ID_START, &a, false) == 0);
	test_assert(cw_idmap_find(&m, CW_SERVER_ID_START) == &a);
	cw_idmap_finish(&m);
}

static void test_our_ids_are_reused_lifo(void)
{
	struct cw_idmap m;
	struct cw_object o[4] = { { 0 } };
	cw_idmap_init(&m);
	test_assert(cw_idmap_insert_at(&m, 1, &o[0], false) == 0); /* wl_display */
	uint32_t a = cw_idmap_alloc(&m, false, &o[1]);
	uint32_t b = cw_idmap_alloc(&m, false, &o[2]);
	test_assert(a == 2 && b == 3);
	cw_idmap_remove(&m, a, true);
	test_assert(cw_idmap_find(&m, a) == NULL);
	test_assert(cw_idmap_alloc(&m, false, &o[3]) == a);
	test_assert(cw_idmap_find(&m, a) == &o[3]);
	uint32_t s1 = cw_idmap_alloc(&m, true, &o[1]);
	uint32_t s2 = cw_idmap_alloc(&m, true, &o[2]);
	test_assert(s1 == CW_SERVER_ID_START && s2 == CW_SERVER_ID_START + 1);
	cw_idmap_remove(&m, s1, true);
	test_assert(cw_idmap_alloc(&m, true, &o[0]) == s1);
	/* Removing a peer id does not put it on our free list. */
	cw_idmap_remove(&m, 1, false);
	test_assert(cw_idmap_alloc(&m, false, &o[0]) == 4);
	cw_idmap_finish(&m);
}

static void test_fresh_map_allocates_from_one(void)
{
	struct cw_idmap m;
	struct cw_object o = { 0 };
	cw_idmap_init(&m);
	test_assert(cw_idmap_alloc(&m, false, &o) == 1);
	cw_idmap_finish(&m);
}

static void count_cb(struct cw_object *obj, void *data)
{
	(void)obj;
	(*(int *)data)++;
}

static void test_for_each_visits_both_ranges(void)
{
	struct cw_idmap m;
	struct cw_object o[3] = { { 0 } };
	cw_idmap_init(&m);
	cw_idmap_insert_at(&m, 1, &o[0], false);
	cw_idmap_insert_at(&m, 2, &o[1], false);
	cw_idmap_alloc(&m, true, &o[2]);
	cw_idmap_remove(&m, 2, false);
	int n = 0;
	cw_idmap_for_each(&m, count_cb, &n);
	test_assert(n == 2);
	cw_idmap_finish(&m);
}

static void test_pool_recycles_objects(void)
{
	struct cw_objpool p = { 0 };
	struct cw_object *a = cw_objpool_get(&p);
	test_assert(a && p.live == 1);
	a->guest_id = 7;
	cw_objpool_put(&p, a);
	test_assert(p.live == 0);
	struct cw_object *b = cw_objpool_get(&p);
	test_assert(b == a && b->guest_id == 0); /* reused and cleared */
	cw_objpool_put(&p, b);
	cw_objpool_put(&p, NULL);
	cw_objpool_finish(&p);
}

int main(void)
{
	RUN(test_peer_ids_cannot_skip_ahead);
	RUN(test_our_ids_are_reused_lifo);
	RUN(test_fresh_map_allocates_from_one);
	RUN(test_for_each_visits_both_ranges);
	RUN(test_pool_recycles_objects);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
