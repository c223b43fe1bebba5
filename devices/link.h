/* A Modbus link: the libmodbus context of one bus (TCP or RTU). Enforces the RTU
 * inter-frame silence (3.5 character times, which libmodbus leaves to the caller), a
 * per-request pause for slow devices and a deadline on each whole exchange. Owned and used by one
 * bus worker thread only. */
#ifndef HW_LINK_H
#define HW_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/profile.h"
#include "core/config.h"

struct mb_link;

struct mb_link_stats {
	uint64_t connects;    /* successful connections (TCP) or port openings (RTU) */
	uint64_t disconnects; /* connections dropped after an error */
	uint64_t requests;
	uint64_t errors;
	uint64_t late; /* pipelined: answers that came after their request was given up */
};

/* One read of a batch (mb_link_read_many). */
struct mb_xfer {
	uint8_t unit;
	enum mb_table table;
	uint16_t addr;
	uint16_t count;
	void *dst;	/* uint16_t registers or uint8_t bits, as mb_link_read */
	int rc;		/* out: count, or a negative errno as mb_link_read returns */
	int64_t rtt_us; /* out: from sending the request to its answer */
};

/* Returns 0 or -errno. The bus must outlive the link. */
int mb_link_create(const struct cfg_bus *bus, struct mb_link **out);
void mb_link_destroy(struct mb_link *l); /* accepts NULL */

/* Connects (opens the port) if not connected. Returns 0 or -errno; the first failure
 * of a run is logged, and the recovery. */
int mb_link_connect(struct mb_link *l);
/* Drops the connection, so the next request connects again (after a broken stream). */
void mb_link_close(struct mb_link *l);
/* Connected and ready for a one-at-a-time exchange: false while an answer given up on
 * may still be on its way (the next exchange then starts on a new connection). */
bool mb_link_is_connected(const struct mb_link *l);
/* The requests a TCP link keeps in flight at once (the bus's `pipeline`; 1 on RTU). */
int mb_link_pipeline(const struct mb_link *l);

/* Reads count registers (input/holding: uint16_t *dst) or bits (coil/discrete:
 * uint8_t *dst) from unit. pause_ms: extra silence this device needs before it.
 * Returns count, or a negative errno: -ETIMEDOUT (no whole answer within the bus's
 * timeout_ms, however it trickled in), -EMBX* (exception replies, as libmodbus's errno
 * values), -EMBBADDATA, -EMBBADSLAVE etc. (an answer that does not match the request:
 * other unit, impossible length, wrong function or byte count) or a socket error. On TCP
 * this is mb_link_read_many with one request (same framing, checks and deadline), except
 * that a request whose answer was lost is not sent again: that is the caller's error. */
int mb_link_read(struct mb_link *l, int unit, enum mb_table t, uint16_t addr, uint16_t count,
		 void *dst, int pause_ms);
/* Runs the n reads of x with up to mb_link_pipeline() requests in flight on one TCP
 * connection (on RTU every x[i].rc is -ENOTSUP); transaction ids pair answers with requests, so one
 * device that does not answer costs the others nothing but its slot, and a late answer is
 * recognised and dropped. Connects if needed. Sets every x[i].rc. When the stream goes out of step
 * (a header no answer can have, an answer nobody asked for) or the connection breaks, the
 * connection is rebuilt and the requests that were in flight go out once more on the new
 * one; a second loss fails them with -EMBBADDATA or the connection's error. Returns the
 * number answered. */
size_t mb_link_read_many(struct mb_link *l, struct mb_xfer *x, size_t n);
/* Writes one coil (value 0/1) or one holding register. Returns 0 or a negative errno
 * (-ETIMEDOUT also when the whole exchange took longer than timeout_ms). */
int mb_link_write(struct mb_link *l, int unit, enum mb_table t, uint16_t addr, uint16_t value,
		  int pause_ms);
/* Discards whatever is waiting on the line (a late answer after a timeout). */
void mb_link_flush(struct mb_link *l);
void mb_link_get_stats(const struct mb_link *l, struct mb_link_stats *out);
/* The silence enforced between two frames on this link, in microseconds (0 for TCP). */
int64_t mb_link_silence_us(const struct mb_link *l);

#endif
