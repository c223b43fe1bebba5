/* Modbus TCP application data units (MBAP header + PDU) of read requests and their
 * answers, for links that keep several requests in flight on one connection (which
 * libmodbus's one-exchange-at-a-time API cannot). Pure; any thread. */
#ifndef HW_MBTCP_H
#define HW_MBTCP_H

#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"

#define MBTCP_REQ_LEN 12  /* a read request: 7 bytes of MBAP header, 5 of PDU */
#define MBTCP_MAX_ADU 260 /* 7 + 253 */

/* Writes the request reading count registers or bits of table t at addr from unit,
 * with transaction id tid, into out (MBTCP_REQ_LEN bytes). */
void mbtcp_encode_read(uint8_t *out, uint16_t tid, uint8_t unit, enum mb_table t, uint16_t addr,
		       uint16_t count);

/* The length of the ADU at the head of buf (n bytes in): 0 while more bytes are needed
 * to know or to have it whole, or -EMBBADDATA when the header cannot start an answer
 * (protocol id not 0, length outside 2..254): the stream is out of step. */
int mbtcp_frame_len(const uint8_t *buf, size_t n);

/* The transaction id of a complete ADU. */
uint16_t mbtcp_tid(const uint8_t *adu);

/* Decodes the ADU (len bytes, as mbtcp_frame_len measured it) answering a read of
 * count registers (into uint16_t dst) or bits (one byte per bit into uint8_t dst) of
 * table t from unit. Returns count; -EMBX* (libmodbus's errno values) for an exception
 * answer; -EMBBADSLAVE for another unit's answer; -EMBBADDATA for a wrong function
 * code or byte count. */
int mbtcp_decode_read(const uint8_t *adu, size_t len, uint8_t unit, enum mb_table t, uint16_t count,
		      void *dst);

#endif
