/* Device layout: points and block instances to wire addresses. Pure; any thread. */
#include "devices/layout.h"

#include <errno.h>
#include <stdlib.h>

int mb_layout_build(const struct profile *p, const int *counts, int address_base,
		    struct mb_lpoint **out, size_t *n_out)
{
	size_t n = p->n_points, k = 0;
	struct mb_lpoint *v;

	for (size_t b = 0; b < p->n_blocks; b++)
		n += (size_t)(counts[b] > 0 ? counts[b] : 0) * p->blocks[b].n_points;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_points; i++) {
		const struct prof_point *pt = &p->points[i];
		v[k++] = (struct mb_lpoint){.def = pt,
					    .block = MB_TOP_LEVEL,
					    .bit = pt->bit,
					    .address = pt->address,
					    .group = pt->group};
	}
	for (size_t b = 0; b < p->n_blocks; b++) {
		const struct prof_block *blk = &p->blocks[b];
		for (int inst = 0; inst < counts[b]; inst++) {
			for (size_t i = 0; i < blk->n_points; i++) {
				const struct prof_point *pt = &blk->points[i];
				struct mb_lpoint *s = &v[k++];
				*s = (struct mb_lpoint){.def = pt,
							.block = (uint16_t)b,
							.instance = (uint16_t)inst,
							.bit = pt->bit,
							.group = blk->group};
				if (blk->bit_stride) {
					uint32_t bitpos =
					    (uint32_t)inst * blk->bit_stride + (uint32_t)pt->bit;
					s->address =
					    (uint32_t)blk->base + pt->address + bitpos / 16;
					s->bit = (int)(bitpos % 16);
				} else {
					s->address = (uint32_t)blk->base +
						     (uint32_t)inst * blk->stride + pt->address;
				}
			}
		}
	}
	for (size_t i = 0; i < k; i++) {
		struct mb_lpoint *s = &v[i];
		if (s->address < (uint32_t)address_base ||
		    s->address - (uint32_t)address_base + prof_point_width(s->def) > 65536) {
			s->unreadable = true;
			continue;
		}
		s->address -= (uint32_t)address_base;
	}
	*out = v;
	*n_out = k;
	return 0;
}
