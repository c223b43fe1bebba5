/* libFuzzer target: Modbus TCP answers as the pipelined reader meets them on the wire.
 * The first 4 bytes choose what was asked (unit, table, count); the rest is the stream.
 * No crash, no read or write outside the frame and the destination, and a decoded
 * answer never claims more values than were asked for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mbtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t unit, *buf;
	enum mb_table t;
	uint16_t count;
	size_t off = 0;

	if (size < 4)
		return 0;
	unit = data[0];
	t = (enum mb_table)(data[1] % 4);
	count = (uint16_t)(((data[2] << 8) | data[3]) % 2001);
	if (count == 0)
		count = 1;
	data += 4;
	size -= 4;
	/* A copy of exactly the bytes received, so that ASan sees any read past them. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	while (off < size) {
		int n = mbtcp_frame_len(buf + off, size - off);
		uint8_t *dst;
		int rc;

		if (n <= 0)
			break; /* more bytes needed, or out of step */
		if ((size_t)n > size - off || n > MBTCP_MAX_ADU)
			abort();
		dst = malloc((size_t)count * sizeof(uint16_t));
		if (!dst)
			break;
		(void)mbtcp_tid(buf + off);
		rc = mbtcp_decode_read(buf + off, (size_t)n, unit, t, count, dst);
		if (rc > count)
			abort();
		free(dst);
		off += (size_t)n;
	}
	free(buf);
	return 0;
}
