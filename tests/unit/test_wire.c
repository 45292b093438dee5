/* Codec tests against tests/data/test.xml: every argument type round-trips, and
 * hostile input (truncation, bad sizes, strings, nullability, fds) is rejected. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proxy/proto.h"
#include "proxy/wire.h"
#include "test.h"

static int n_run;
static const struct cw_iface *all;

enum { REQ_DESTROY, REQ_ALL_TYPES, REQ_NULLABLE, REQ_ONE_STRING, REQ_ANY_OBJECT,
	REQ_GENERIC_NEW_ID, REQ_TWO_FDS, REQ_LATER };

static enum cw_wire_status decode_words(const uint32_t *w, const struct cw_msg_desc *d,
	size_t nfds, struct cw_msg *m)
{
	struct cw_header h;
	test_assert(cw_header_decode(w, 8, &h));
	return cw_msg_decode(w, &h, d, nfds, m);
}

static void test_tables_are_parsed(void)
{
	test_assert(all != NULL);
	test_assert(all->version == 3);
	test_assert(all->nreq == 8 && all->nevt == 2);
	const struct cw_msg_desc *d = &all->req[REQ_ALL_TYPES];
	test_assert(d->nargs == 8 && d->nfds == 1 && d->has_ids);
	test_assert(strcmp(d->name, "all_types") == 0);
	test_assert(d->args[4].type == 'o' && d->args[4].iface == all && !d->args[4].nullable);
	test_assert(all->req[REQ_NULLABLE].args[0].nullable && all->req[REQ_NULLABLE].args[1].nullable);
	test_assert(all->req[REQ_DESTROY].destructor && !d->destructor);
	test_assert(all->evt[1].destructor && !all->evt[0].destructor);
	test_assert(all->req[REQ_LATER].since == 2 && d->since == 1);
	test_assert(all->req[REQ_ANY_OBJECT].args[0].iface == NULL);
	test_assert(all->req[REQ_GENERIC_NEW_ID].nargs == 3); /* s, u, n */
	const struct cw_iface *reg = cw_proto_find("wl_registry");
	test_assert(reg && reg->req[0].nargs == 4 && reg->req[0].args[3].type == 'n');
	test_assert(cw_proto_find("no_such_interface") == NULL);
	const struct cw_iface *region = cw_proto_find("wl_region");
	const struct cw_iface *surface = cw_proto_find("wl_surface");
	test_assert(region->req[1].scalar_only && region->req[0].scalar_only);
	test_assert(!surface->req[1].scalar_only && !d->scalar_only);
	test_assert(!all->req[REQ_ONE_STRING].scalar_only && all->req[REQ_LATER].scalar_only);
}

static void test_every_type_round_trips(void)
{
	uint8_t arr[5] = { 1, 2, 3, 4, 5 };
	union cw_arg in[8] = {
		{ .i = -7 }, { .u = 0xdeadbeef }, { .i = 256 * 3 + 128 }, { .s = "hello" },
		{ .u = 42 }, { .u = 43 }, { .a = { arr, sizeof(arr) } }, { .h = 0 },
	};
	uint32_t buf[64];
	const struct cw_msg_desc *d = &all->req[REQ_ALL_TYPES];
	size_t n = cw_msg_encode(buf, sizeof(buf), 9, REQ_ALL_TYPES, d, in);
	/* header 8, i u f 12, string 4+8, o n 8, array 4+8 */
	test_assert(n == 52);
	struct cw_msg m;
	test_assert(decode_words(buf, d, 1, &m) == CW_WIRE_OK);
	test_assert(m.hdr.id == 9 && m.hdr.opcode == REQ_ALL_TYPES && m.hdr.size_bytes == 52);
	test_assert(m.args[0].i == -7);
	test_assert(m.args[1].u == 0xdeadbeef);
	test_assert(m.args[2].i == 896);
	test_assert(strcmp(m.args[3].s, "hello") == 0);
	test_assert(m.args[4].u == 42 && m.args[5].u == 43);
	test_assert(m.args[6].a.size == 5 && memcmp(m.args[6].a.data, arr, 5) == 0);
	test_assert(m.args[7].h == 0);
	/* Word offsets let the relay patch ids in place. */
	test_assert(m.word[4] == 8 && m.word[5] == 9);
	test_assert(cw_msg_word(buf, m.word[4]) == 42);
}

static void test_nullable_arguments(void)
{
	const struct cw_msg_desc *d = &all->req[REQ_NULLABLE];
	uint32_t w[] = { 3, (16u << 16) | REQ_NULLABLE, 0, 0 };
	struct cw_msg m;
	test_assert(decode_words(w, d, 0, &m) == CW_WIRE_OK);
	test_assert(m.args[0].s == NULL && m.args[1].u == 0);

	uint32_t s0[] = { 3, (12u << 16) | REQ_ONE_STRING, 0 };
	test_assert(decode_words(s0, &all->req[REQ_ONE_STRING], 0, &m) == CW_WIRE_NULL_STRING);

	uint32_t o0[] = { 3, (12u << 16) | REQ_ANY_OBJECT, 0 };
	test_assert(decode_words(o0, &all->req[REQ_ANY_OBJECT], 0, &m) == CW_WIRE_NULL_OBJECT);
}

static void test_string_without_nul_is_rejected(void)
{
	uint32_t w[] = { 3, (16u << 16) | REQ_ONE_STRING, 4, 0x61616161 }; /* "aaaa" */
	struct cw_msg m;
	test_assert(decode_words(w, &all->req[REQ_ONE_STRING], 0, &m) == CW_WIRE_NO_NUL);
}

static void test_string_with_embedded_nul_is_rejected(void)
{
	uint32_t w[] = { 3, (16u << 16) | REQ_ONE_STRING, 4, 0 };
	memcpy(&w[3], "a\0b\0", 4);
	struct cw_msg m;
	test_assert(decode_words(w, &all->req[REQ_ONE_STRING], 0, &m) == CW_WIRE_EMBEDDED_NUL);
}

static void test_string_longer_than_message_is_rejected(void)
{
	uint32_t w[] = { 3, (16u << 16) | REQ_ONE_STRING, 100, 0x00616161 };
	struct cw_msg m;
	test_assert(decode_words(w, &all->req[REQ_ONE_STRING], 0, &m) == CW_WIRE_TRUNCATED);
	w[2] = 0xffffffffu; /* must not wrap around in the bounds check */
	test_assert(decode_words(w, &all->req[REQ_ONE_STRING], 0, &m) == CW_WIRE_TRUNCATED);
}

static void test_array_bounds(void)
{
	const struct cw_msg_desc *d = &all->req[REQ_ALL_TYPES];
	uint8_t arr[8] = { 0 };
	union cw_arg in[8] = { { .i = 0 }, { .u = 0 }, { .i = 0 }, { .s = "x" }, { .u = 1 },
		{ .u = 2 }, { .a = { arr, 8 } }, { .h = 0 } };
	uint32_t buf[64];
	size_t n = cw_msg_encode(buf, sizeof(buf), 1, REQ_ALL_TYPES, d, in);
	test_assert(n > 0);
	struct cw_msg m;
	test_assert(decode_words(buf, d, 1, &m) == CW_WIRE_OK);
	/* Claim a longer array than the message holds. */
	buf[m.word[6]] = 12;
	test_assert(decode_words(buf, d, 1, &m) == CW_WIRE_TRUNCATED);
	buf[m.word[6]] = 0x7ffffffc;
	test_assert(decode_words(buf, d, 1, &m) == CW_WIRE_TRUNCATED);
}

static void test_truncated_and_trailing(void)
{
	const struct cw_msg_desc *d = &all->req[REQ_ANY_OBJECT];
	uint32_t shortmsg[] = { 3, (8u << 16) | REQ_ANY_OBJECT };
	struct cw_msg m;
	test_assert(decode_words(shortmsg, d, 0, &m) == CW_WIRE_TRUNCATED);
	uint32_t longmsg[] = { 3, (16u << 16) | REQ_ANY_OBJECT, 5, 6 };
	test_assert(decode_words(longmsg, d, 0, &m) == CW_WIRE_TRAILING);
}

static void test_header_checks(void)
{
	struct cw_header h;
	uint32_t w[2] = { 1, 0 };
	test_assert(!cw_header_decode(w, 7, &h));
	w[1] = 4u << 16;
	test_assert(cw_header_decode(w, 8, &h) && cw_header_check(&h) == CW_WIRE_SHORT);
	w[1] = 10u << 16;
	test_assert(cw_header_decode(w, 8, &h) && cw_header_check(&h) == CW_WIRE_MISALIGNED);
	w[1] = 4100u << 16;
	test_assert(cw_header_decode(w, 8, &h) && cw_header_check(&h) == CW_WIRE_TOO_BIG);
	w[1] = (4096u << 16) | 7;
	test_assert(cw_header_decode(w, 8, &h) && cw_header_check(&h) == CW_WIRE_OK);
	test_assert(h.opcode == 7 && h.size_bytes == 4096 && h.id == 1);
}

static void test_new_id_zero_is_rejected(void)
{
	const struct cw_msg_desc *d = &all->req[REQ_GENERIC_NEW_ID];
	union cw_arg in[3] = { { .s = "cw_test_all" }, { .u = 1 }, { .u = 0 } };
	uint32_t buf[32];
	test_assert(cw_msg_encode(buf, sizeof(buf), 3, REQ_GENERIC_NEW_ID, d, in) > 0);
	struct cw_msg m;
	test_assert(decode_words(buf, d, 0, &m) == CW_WIRE_NULL_NEW_ID);
	in[2].u = 5;
	test_assert(cw_msg_encode(buf, sizeof(buf), 3, REQ_GENERIC_NEW_ID, d, in) > 0);
	test_assert(decode_words(buf, d, 0, &m) == CW_WIRE_OK);
	test_assert(strcmp(m.args[0].s, "cw_test_all") == 0 && m.args[1].u == 1 && m.args[2].u == 5);
}

static void test_fds_must_be_queued(void)
{
	const struct cw_msg_desc *d = &all->req[REQ_TWO_FDS];
	uint32_t w[] = { 3, (8u << 16) | REQ_TWO_FDS };
	struct cw_msg m;
	test_assert(decode_words(w, d, 1, &m) == CW_WIRE_MISSING_FD);
	test_assert(decode_words(w, d, 0, &m) == CW_WIRE_MISSING_FD);
	test_assert(decode_words(w, d, 2, &m) == CW_WIRE_OK);
	test_assert(m.args[0].h == 0 && m.args[1].h == 1);
}

static void test_encode_respects_capacity(void)
{
	const struct cw_msg_desc *d = &all->req[REQ_ONE_STRING];
	union cw_arg in[1] = { { .s = "a long enough string" } };
	uint32_t buf[64];
	test_assert(cw_msg_encode(buf, 16, 1, REQ_ONE_STRING, d, in) == 0);
	test_assert(cw_msg_encode(buf, 7, 1, REQ_DESTROY, &all->req[REQ_DESTROY], NULL) == 0);
	test_assert(cw_msg_encode(buf, sizeof(buf), 1, REQ_ONE_STRING, d, in) == 8 + 4 + 24);
}

/* Random bytes must never crash the decoder or make it read out of bounds (ASan). */
static void test_random_input_is_handled(void)
{
	uint32_t seed = 12345;
	uint32_t w[64];
	for (int iter = 0; iter < 200000; iter++) {
		size_t nwords = 2 + (seed % 30);
		for (size_t i = 0; i < nwords; i++) {
			seed = seed * 1103515245u + 12345u;
			uint32_t r = seed >> 8;
			w[i] = (r & 3) == 0 ? (r >> 2) % 40 : r;
		}
		w[1] = ((uint32_t)(nwords * 4) << 16) | (w[1] % all->nreq);
		struct cw_header h;
		test_assert(cw_header_decode(w, nwords * 4, &h));
		test_assert(cw_header_check(&h) == CW_WIRE_OK);
		struct cw_msg m;
		enum cw_wire_status st = cw_msg_decode(w, &h, &all->req[h.opcode], 2, &m);
		test_assert(st >= CW_WIRE_OK && st <= CW_WIRE_MISSING_FD);
		if (st == CW_WIRE_OK) {
			/* Whatever decodes re-encodes to the same size, and to the same bytes
			 * unless padding (which the encoder zeroes) was involved. */
			uint32_t out[64];
			size_t n = cw_msg_encode(out, sizeof(out), h.id, h.opcode, m.desc, m.args);
			test_assert(n == h.size_bytes);
			bool padded = false;
			for (uint32_t i = 0; i < m.desc->nargs; i++) {
				padded |= m.desc->args[i].type == 's' || m.desc->args[i].type == 'a';
			}
			test_assert(padded || memcmp(out, w, n) == 0);
		}
	}
}

int main(void)
{
	test_assert(cw_proto_init() == 0);
	all = cw_proto_find("cw_test_all");
	RUN(test_tables_are_parsed);
	RUN(test_every_type_round_trips);
	RUN(test_nullable_arguments);
	RUN(test_string_without_nul_is_rejected);
	RUN(test_string_with_embedded_nul_is_rejected);
	RUN(test_string_longer_than_message_is_rejected);
	RUN(test_array_bounds);
	RUN(test_truncated_and_trailing);
	RUN(test_header_checks);
	RUN(test_new_id_zero_is_rejected);
	RUN(test_fds_must_be_queued);
	RUN(test_encode_respects_capacity);
	RUN(test_random_input_is_handled);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
