/* The wl_shm formats crossway can shadow: single-plane formats whose rows are a whole
 * number of bytes per pixel, so that a damaged rectangle is a byte range per row. */
#include "shm/shm.h"

#define FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

struct format_bpp {
	uint32_t code;
	uint32_t bpp;
};

static const struct format_bpp formats[] = {
	/* wl_shm's own codes for the two formats every compositor supports. */
	{ 0, 4 }, /* ARGB8888 */
	{ 1, 4 }, /* XRGB8888 */
	{ FOURCC('C', '8', ' ', ' '), 1 },
	{ FOURCC('R', '8', ' ', ' '), 1 },
	{ FOURCC('R', 'G', 'B', '8'), 1 },
	{ FOURCC('B', 'G', 'R', '8'), 1 },
	{ FOURCC('R', '1', '6', ' '), 2 },
	{ FOURCC('R', 'G', '8', '8'), 2 },
	{ FOURCC('G', 'R', '8', '8'), 2 },
	{ FOURCC('X', 'R', '1', '2'), 2 },
	{ FOURCC('X', 'B', '1', '2'), 2 },
	{ FOURCC('R', 'X', '1', '2'), 2 },
	{ FOURCC('B', 'X', '1', '2'), 2 },
	{ FOURCC('A', 'R', '1', '2'), 2 },
	{ FOURCC('A', 'B', '1', '2'), 2 },
	{ FOURCC('R', 'A', '1', '2'), 2 },
	{ FOURCC('B', 'A', '1', '2'), 2 },
	{ FOURCC('X', 'R', '1', '5'), 2 },
	{ FOURCC('X', 'B', '1', '5'), 2 },
	{ FOURCC('R', 'X', '1', '5'), 2 },
	{ FOURCC('B', 'X', '1', '5'), 2 },
	{ FOURCC('A', 'R', '1', '5'), 2 },
	{ FOURCC('A', 'B', '1', '5'), 2 },
	{ FOURCC('R', 'A', '1', '5'), 2 },
	{ FOURCC('B', 'A', '1', '5'), 2 },
	{ FOURCC('R', 'G', '1', '6'), 2 },
	{ FOURCC('B', 'G', '1', '6'), 2 },
	{ FOURCC('R', 'G', '2', '4'), 3 },
	{ FOURCC('B', 'G', '2', '4'), 3 },
	{ FOURCC('X', 'R', '2', '4'), 4 },
	{ FOURCC('X', 'B', '2', '4'), 4 },
	{ FOURCC('R', 'X', '2', '4'), 4 },
	{ FOURCC('B', 'X', '2', '4'), 4 },
	{ FOURCC('A', 'R', '2', '4'), 4 },
	{ FOURCC('A', 'B', '2', '4'), 4 },
	{ FOURCC('R', 'A', '2', '4'), 4 },
	{ FOURCC('B', 'A', '2', '4'), 4 },
	{ FOURCC('X', 'R', '3', '0'), 4 },
	{ FOURCC('X', 'B', '3', '0'), 4 },
	{ FOURCC('R', 'X', '3', '0'), 4 },
	{ FOURCC('B', 'X', '3', '0'), 4 },
	{ FOURCC('A', 'R', '3', '0'), 4 },
	{ FOURCC('A', 'B', '3', '0'), 4 },
	{ FOURCC('R', 'A', '3', '0'), 4 },
	{ FOURCC('B', 'A', '3', '0'), 4 },
	{ FOURCC('R', 'G', '3', '2'), 4 },
	{ FOURCC('G', 'R', '3', '2'), 4 },
	{ FOURCC('X', 'R', '4', 'H'), 8 },
	{ FOURCC('X', 'B', '4', 'H'), 8 },
	{ FOURCC('A', 'R', '4', 'H'), 8 },
	{ FOURCC('A', 'B', '4', 'H'), 8 },
	{ FOURCC('X', 'R', '4', '8'), 8 },
	{ FOURCC('X', 'B', '4', '8'), 8 },
	{ FOURCC('A', 'R', '4', '8'), 8 },
	{ FOURCC('A', 'B', '4', '8'), 8 },
};

uint32_t cw_shm_format_bpp(uint32_t wl_format)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].code == wl_format) {
			return formats[i].bpp;
		}
	}
	return 0;
}
