/* Modbus TCP read requests and answers, framed by hand for pipelined links. Pure. */
#include "devices/mbtcp.h"

#include <errno.h>
#include <modbus.h>

static uint8_t function_of(enum mb_table t)
{
	switch (t) {
	case MB_COIL:
		return 0x01;
	case MB_DISCRETE:
		return 0x02;
	case MB_HOLDING:
		return 0x03;
	default:
		return 0x04;
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void mbtcp_encode_read(uint8_t *out, uint16_t tid, uint8_t unit, enum mb_table t, uint16_t addr,
		       uint16_t count)
{
	put16(out, tid);
	put16(out + 2, 0); /* protocol id: Modbus */
	put16(out + 4, 6); /* unit id + PDU */
	out[6] = unit;
	out[7] = function_of(t);
	put16(out + 8, addr);
	put16(out + 10, count);
}

int mbtcp_frame_len(const uint8_t *buf, size_t n)
{
	if (n < 6)
		return 0;
	uint16_t len = get16(buf + 4);
	if (get16(buf + 2) != 0 || len < 2 || len > MBTCP_MAX_ADU - 6)
		return -EMBBADDATA;
	return n < (size_t)6 + len ? 0 : 6 + len;
}

uint16_t mbtcp_tid(const uint8_t *adu)
{
	return get16(adu);
}

int mbtcp_decode_read(const uint8_t *adu, size_t len, uint8_t unit, enum mb_table t, uint16_t count,
		      void *dst)
{
	uint8_t fn = function_of(t);
	bool bits = t == MB_COIL || t == MB_DISCRETE;
	size_t want = bits ? (count + 7u) / 8u : 2u * count;

	if (len < 9)
		return -EMBBADDATA;
	if (adu[6] != unit)
		return -EMBBADSLAVE;
	if (adu[7] == (fn | 0x80)) {
		uint8_t code = adu[8];
		return code >= 1 && code < MODBUS_EXCEPTION_MAX ? -(MODBUS_ENOBASE + code)
								: -EMBBADEXC;
	}
	if (adu[7] != fn || adu[8] != want || len != 9 + want)
		return -EMBBADDATA;
	const uint8_t *d = adu + 9;
	if (bits) {
		uint8_t *out = dst;
		for (uint16_t i = 0; i < count; i++)
			out[i] = (uint8_t)(d[i / 8] >> (i % 8) & 1);
	} else {
		uint16_t *out = dst;
		for (uint16_t i = 0; i < count; i++)
			out[i] = get16(d + 2 * i);
	}
	return count;
}
