/* Wayland wire codec. Mirrors the checks of libwayland's wl_connection_demarshal so
 * that whatever crossway forwards, a libwayland peer would also have accepted. */
#include <string.h>

#include "proxy/wire.h"

const char *cw_wire_status_str(enum cw_wire_status st)
{
	switch (st) {
	case CW_WIRE_OK:
		return "ok";
	case CW_WIRE_SHORT:
		return "message size smaller than its header";
	case CW_WIRE_MISALIGNED:
		return "message size not a multiple of 4";
	case CW_WIRE_TOO_BIG:
		return "message larger than 4096 bytes";
	case CW_WIRE_TRUNCATED:
		return "arguments run past the end of the message";
	case CW_WIRE_TRAILING:
		return "bytes left after the last argument";
	case CW_WIRE_NO_NUL:
		return "string not NUL-terminated";
	case CW_WIRE_EMBEDDED_NUL:
		return "string contains a NUL byte";
	case CW_WIRE_NULL_STRING:
		return "null string for a non-nullable argument";
	case CW_WIRE_NULL_OBJECT:
		return "null object for a non-nullable argument";
	case CW_WIRE_NULL_NEW_ID:
		return "new_id is 0";
	case CW_WIRE_MISSING_FD:
		return "file descriptor expected but none was received";
	}
	return "unknown";
}

bool cw_header_decode(const void *buf, size_t avail_bytes, struct cw_header *h)
{
	if (avail_bytes < CW_HEADER_BYTES) {
		return false;
	}
	uint32_t w1 = cw_msg_word(buf, 1);
	h->id = cw_msg_word(buf, 0);
	h->opcode = w1 & 0xffff;
	h->size_bytes = w1 >> 16;
	return true;
}

enum cw_wire_status cw_header_check(const struct cw_header *h)
{
	if (h->size_bytes < CW_HEADER_BYTES) {
		return CW_WIRE_SHORT;
	}
	if (h->size_bytes % 4) {
		return CW_WIRE_MISALIGNED;
	}
	if (h->size_bytes > CW_MAX_MESSAGE_BYTES) {
		return CW_WIRE_TOO_BIG;
	}
	return CW_WIRE_OK;
}

enum cw_wire_status cw_msg_decode(const void *buf, const struct cw_header *h,
	const struct cw_msg_desc *desc, size_t nfds_avail, struct cw_msg *out)
{
	const char *base = buf;
	uint32_t nwords = h->size_bytes / 4;
	uint32_t w = 2;
	uint32_t nfds = 0;

	out->hdr = *h;
	out->desc = desc;
	for (uint32_t i = 0; i < desc->nargs; i++) {
		const struct cw_arg_desc *a = &desc->args[i];
		union cw_arg *v = &out->args[i];
		if (a->type == 'h') {
			if (nfds >= nfds_avail) {
				return CW_WIRE_MISSING_FD;
			}
			out->word[i] = 0;
			v->h = (int)nfds++;
			continue;
		}
		if (w >= nwords) {
			return CW_WIRE_TRUNCATED;
		}
		out->word[i] = (uint16_t)w;
		uint32_t x = cw_msg_word(base, w++);
		switch (a->type) {
		case 'i':
		case 'f':
			v->i = (int32_t)x;
			break;
		case 'u':
			v->u = x;
			break;
		case 'o':
			if (x == 0 && !a->nullable) {
				return CW_WIRE_NULL_OBJECT;
			}
			v->u = x;
			break;
		case 'n':
			if (x == 0) {
				return CW_WIRE_NULL_NEW_ID;
			}
			v->u = x;
			break;
		case 's': {
			if (x == 0) {
				if (!a->nullable) {
					return CW_WIRE_NULL_STRING;
				}
				v->s = NULL;
				break;
			}
			uint32_t padded_words = (x + 3) / 4;
			if (x > CW_MAX_MESSAGE_BYTES || padded_words > nwords - w) {
				return CW_WIRE_TRUNCATED;
			}
			const char *s = base + 4 * (size_t)w;
			if (s[x - 1] != '\0') {
				return CW_WIRE_NO_NUL;
			}
			if (memchr(s, '\0', x - 1)) {
				return CW_WIRE_EMBEDDED_NUL;
			}
			v->s = s;
			w += padded_words;
			break;
		}
		case 'a': {
			uint32_t padded_words = (x + 3) / 4;
			if (x > CW_MAX_MESSAGE_BYTES || padded_words > nwords - w) {
				return CW_WIRE_TRUNCATED;
			}
			v->a.data = base + 4 * (size_t)w;
			v->a.size = x;
			w += padded_words;
			break;
		}
		}
	}
	if (w != nwords) {
		return CW_WIRE_TRAILING;
	}
	return CW_WIRE_OK;
}

size_t cw_msg_encode(void *buf, size_t cap_bytes, uint32_t id, uint32_t opcode,
	const struct cw_msg_desc *desc, const union cw_arg *args)
{
	char *p = buf;
	size_t cap = cap_bytes < CW_MAX_MESSAGE_BYTES ? cap_bytes : CW_MAX_MESSAGE_BYTES;
	size_t off = CW_HEADER_BYTES;

	if (cap < CW_HEADER_BYTES) {
		return 0;
	}
	for (uint32_t i = 0; i < desc->nargs; i++) {
		const union cw_arg *v = &args[i];
		switch (desc->args[i].type) {
		case 'h':
			break;
		case 's': {
			uint32_t len = v->s ? (uint32_t)strlen(v->s) + 1 : 0;
			size_t padded = ((size_t)len + 3) & ~(size_t)3;
			if (off + 4 + padded > cap) {
				return 0;
			}
			memcpy(p + off, &len, 4);
			if (len) {
				memset(p + off + 4 + padded - 4, 0, 4);
				memcpy(p + off + 4, v->s, len);
			}
			off += 4 + padded;
			break;
		}
		case 'a': {
			size_t padded = ((size_t)v->a.size + 3) & ~(size_t)3;
			if (off + 4 + padded > cap) {
				return 0;
			}
			memcpy(p + off, &v->a.size, 4);
			if (v->a.size) {
				memset(p + off + 4 + padded - 4, 0, 4);
				memcpy(p + off + 4, v->a.data, v->a.size);
			}
			off += 4 + padded;
			break;
		}
		default:
			if (off + 4 > cap) {
				return 0;
			}
			memcpy(p + off, &v->u, 4);
			off += 4;
			break;
		}
	}
	cw_msg_set_word(p, 0, id);
	cw_msg_set_word(p, 1, (uint32_t)(off << 16) | (opcode & 0xffff));
	return off;
}
