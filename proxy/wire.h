/* The Wayland wire codec: pure functions over byte buffers, no I/O, no allocation.
 * Decoding validates what libwayland validates (sizes, alignment, strings, arrays,
 * nullability, fd count); id checks against the object tables live in the relay. */
#ifndef CW_PROXY_WIRE_H
#define CW_PROXY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/proto.h"

#define CW_HEADER_BYTES 8
#define CW_MAX_MESSAGE_BYTES 4096 /* libwayland's limit for one message */
#define CW_SERVER_ID_START 0xff000000u

struct cw_header {
	uint32_t id;
	uint32_t opcode;
	uint32_t size_bytes;
};

union cw_arg {
	int32_t i;
	uint32_t u; /* also o, n (ids) and f (raw 24.8 fixed) */
	const char *s; /* NULL for a null string */
	struct {
		const void *data;
		uint32_t size;
	} a;
	int h; /* index into the fds given to the decoder */
};

struct cw_msg {
	struct cw_header hdr;
	const struct cw_msg_desc *desc;
	union cw_arg args[CW_MAX_ARGS];
	uint16_t word[CW_MAX_ARGS]; /* word offset of each argument inside the message */
};

enum cw_wire_status {
	CW_WIRE_OK = 0,
	CW_WIRE_SHORT,        /* size field shorter than the header */
	CW_WIRE_MISALIGNED,   /* size field not a multiple of 4 */
	CW_WIRE_TOO_BIG,      /* size field above CW_MAX_MESSAGE_BYTES */
	CW_WIRE_TRUNCATED,    /* arguments run past the message size */
	CW_WIRE_TRAILING,     /* bytes left after the last argument */
	CW_WIRE_NO_NUL,       /* string not NUL-terminated */
	CW_WIRE_EMBEDDED_NUL, /* string with a NUL before its end */
	CW_WIRE_NULL_STRING,  /* null string where the signature forbids it */
	CW_WIRE_NULL_OBJECT,  /* object id 0 where the signature forbids it */
	CW_WIRE_NULL_NEW_ID,  /* new_id 0 */
	CW_WIRE_MISSING_FD,   /* fewer fds queued than the message carries */
};

const char *cw_wire_status_str(enum cw_wire_status st);

/* Reads the 8-byte header; returns false if fewer than 8 bytes are available. Does
 * not judge the size field: see cw_header_check(). */
bool cw_header_decode(const void *buf, size_t avail_bytes, struct cw_header *h);
enum cw_wire_status cw_header_check(const struct cw_header *h);

/* Decodes a complete message of h->size_bytes at buf against desc. nfds_avail is how
 * many fds are queued for this connection; the i-th 'h' argument gets index i. */
enum cw_wire_status cw_msg_decode(const void *buf, const struct cw_header *h,
	const struct cw_msg_desc *desc, size_t nfds_avail, struct cw_msg *out);

/* Encodes a message; fds are not written (they travel out of band). Returns the size
 * in bytes, or 0 if it does not fit in cap_bytes or exceeds CW_MAX_MESSAGE_BYTES. */
size_t cw_msg_encode(void *buf, size_t cap_bytes, uint32_t id, uint32_t opcode,
	const struct cw_msg_desc *desc, const union cw_arg *args);

/* Reads or replaces one 32-bit word of a message (for id and version rewriting). */
static inline uint32_t cw_msg_word(const void *buf, unsigned word)
{
	uint32_t v;
	__builtin_memcpy(&v, (const char *)buf + 4 * (size_t)word, 4);
	return v;
}
static inline void cw_msg_set_word(void *buf, unsigned word, uint32_t v)
{
	__builtin_memcpy((char *)buf + 4 * (size_t)word, &v, 4);
}

#endif
