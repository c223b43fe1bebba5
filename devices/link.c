/* A Modbus link, TCP or RTU, with the RTU inter-frame silence, the per-device pause and
 * a whole-request deadline enforced here. TCP reads are framed here (devices/mbtcp.c),
 * RTU and writes go through libmodbus. Used by exactly one bus worker thread. */
#define LOG_TAG "link"
#include "devices/link.h"

#include <errno.h>
#include <glib.h>
#include <modbus.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "devices/mbtcp.h"
#include "core/log.h"

#define MAX_PIPELINE 64

struct mb_link {
	const struct cfg_bus *bus;
	modbus_t *mb;
	bool connected;
	bool fail_logged;
	int64_t silence_us;
	int64_t idle_since; /* monotonic us: end of the last frame exchange */
	struct mb_link_stats st;
	/* Pipelined reads (mb_link_read_many) */
	bool late_possible;	     /* a request was given up while its answer may still come */
	uint16_t tid;		     /* last transaction id sent */
	uint16_t gone[MAX_PIPELINE]; /* transaction ids given up on, whose answer may come */
	size_t n_gone, gone_at;
	size_t rx_len;
	uint8_t rx[4096]; /* what came in and is not yet a whole answer */
};

static void wait_until_us(int64_t t)
{
	struct timespec ts;

	for (;;) {
		int64_t now = g_get_monotonic_time();
		if (now >= t)
			return;
		ts.tv_sec = (t - now) / 1000000;
		ts.tv_nsec = ((t - now) % 1000000) * 1000;
		nanosleep(&ts, NULL);
	}
}

int mb_link_create(const struct cfg_bus *bus, struct mb_link **out)
{
	struct mb_link *l = calloc(1, sizeof(*l));
	uint32_t sec = (uint32_t)(bus->timeout_ms / 1000);
	uint32_t usec = (uint32_t)(bus->timeout_ms % 1000) * 1000;
	int rc;

	if (!l)
		return -ENOMEM;
	l->bus = bus;
	if (bus->type == BUS_RTU) {
		static const char parity[] = {'N', 'E', 'O'};
		l->mb = modbus_new_rtu(bus->device, bus->baud, parity[bus->parity], bus->data_bits,
				       bus->stop_bits);
		/* 3.5 characters of 1 start + data + parity + stop bits; above 19200 baud the
		 * standard fixes it at 1750 us. */
		int bits = 1 + bus->data_bits + (bus->parity != PARITY_NONE) + bus->stop_bits;
		l->silence_us =
		    bus->baud > 19200 ? 1750 : (int64_t)(3.5 * bits * 1000000.0 / bus->baud + 1);
	} else {
		l->mb = modbus_new_tcp(bus->host, bus->port);
	}
	if (!l->mb) {
		rc = -errno;
		free(l);
		return rc ? rc : -EINVAL;
	}
	modbus_set_response_timeout(l->mb, sec, usec);
	modbus_set_byte_timeout(l->mb, sec, usec);
	*out = l;
	return 0;
}

void mb_link_destroy(struct mb_link *l)
{
	if (!l)
		return;
	mb_link_close(l);
	modbus_free(l->mb);
	free(l);
}

int mb_link_connect(struct mb_link *l)
{
	const struct cfg_bus *b = l->bus;

	if (l->connected && !l->late_possible)
		return 0;
	mb_link_close(l); /* an answer given up on may still come on the old connection */
	if (modbus_connect(l->mb) < 0) {
		int e = errno;
		if (!l->fail_logged) {
			if (b->type == BUS_RTU)
				log_warn("bus %s: cannot open %s: %s", b->id, b->device,
					 modbus_strerror(e));
			else
				log_warn("bus %s: cannot connect to %s:%d: %s", b->id, b->host,
					 b->port, modbus_strerror(e));
		}
		l->fail_logged = true;
		return e ? -e : -EIO;
	}
	if (b->type == BUS_RTU && b->rs485 &&
	    modbus_rtu_set_serial_mode(l->mb, MODBUS_RTU_RS485) < 0 && !l->fail_logged)
		log_warn("bus %s: %s has no RS-485 mode (%s); using it as it is", b->id, b->device,
			 modbus_strerror(errno));
	if (l->fail_logged)
		log_info("bus %s: connected", b->id);
	l->fail_logged = false;
	l->connected = true;
	l->st.connects++;
	l->idle_since = g_get_monotonic_time();
	return 0;
}

void mb_link_close(struct mb_link *l)
{
	if (l->connected) {
		modbus_close(l->mb);
		l->st.disconnects++;
	}
	l->connected = false;
	l->late_possible = false;
	l->rx_len = 0;
	l->n_gone = 0;
}

bool mb_link_is_connected(const struct mb_link *l)
{
	return l->connected && !l->late_possible;
}

int mb_link_pipeline(const struct mb_link *l)
{
	if (l->bus->type != BUS_TCP || l->bus->pipeline < 1)
		return 1;
	return l->bus->pipeline > MAX_PIPELINE ? MAX_PIPELINE : l->bus->pipeline;
}

static void before_frame(struct mb_link *l, int unit, int pause_ms)
{
	wait_until_us(l->idle_since + l->silence_us + (int64_t)pause_ms * 1000);
	modbus_set_slave(l->mb, unit);
}

/* Ends a libmodbus exchange started at t0. libmodbus restarts its byte timeout on every
 * byte, so a peer sending one byte at a time keeps a request alive far beyond timeout_ms:
 * an answer that took longer than that as a whole is a timeout all the same. */
static int after_frame(struct mb_link *l, int rc, int64_t t0)
{
	int e = errno;

	l->idle_since = g_get_monotonic_time();
	l->st.requests++;
	if (rc >= 0 && l->idle_since - t0 > (int64_t)l->bus->timeout_ms * 1000) {
		rc = -1;
		e = ETIMEDOUT;
	}
	if (rc >= 0)
		return rc;
	l->st.errors++;
	return e ? -e : -EIO;
}

static size_t read_many(struct mb_link *l, struct mb_xfer *x, size_t n, bool again);

int mb_link_read(struct mb_link *l, int unit, enum mb_table t, uint16_t addr, uint16_t count,
		 void *dst, int pause_ms)
{
	int rc;

	if (l->bus->type == BUS_TCP) {
		/* Framed here, not by libmodbus: the answer must come whole within timeout_ms,
		 * and its header must match the request (unit id, length), as on the pipelined
		 * path. */
		struct mb_xfer x = {
		    .unit = (uint8_t)unit, .table = t, .addr = addr, .count = count, .dst = dst};
		wait_until_us(l->idle_since + (int64_t)pause_ms * 1000);
		/* One at a time, a lost answer is the poll's error (the bus counts it and
		 * reconnects), not sent again here. */
		read_many(l, &x, 1, false);
		return x.rc;
	}
	before_frame(l, unit, pause_ms);
	int64_t t0 = g_get_monotonic_time();
	switch (t) {
	case MB_COIL:
		rc = modbus_read_bits(l->mb, addr, count, dst);
		break;
	case MB_DISCRETE:
		rc = modbus_read_input_bits(l->mb, addr, count, dst);
		break;
	case MB_INPUT:
		rc = modbus_read_input_registers(l->mb, addr, count, dst);
		break;
	default:
		rc = modbus_read_registers(l->mb, addr, count, dst);
		break;
	}
	rc = after_frame(l, rc, t0);
	if (rc >= 0 && rc != count)
		return -EMBBADDATA;
	return rc;
}

int mb_link_write(struct mb_link *l, int unit, enum mb_table t, uint16_t addr, uint16_t value,
		  int pause_ms)
{
	int rc;

	if (t != MB_COIL && t != MB_HOLDING)
		return -EINVAL;
	before_frame(l, unit, pause_ms);
	int64_t t0 = g_get_monotonic_time();
	if (t == MB_COIL)
		rc = modbus_write_bit(l->mb, addr, value ? 1 : 0);
	else
		rc = modbus_write_register(l->mb, addr, value);
	rc = after_frame(l, rc, t0);
	return rc < 0 ? rc : 0;
}

/* ---- pipelined reads ---- */

struct inflight {
	size_t xi;
	uint16_t tid;
	int64_t sent; /* monotonic us */
};

/* Sends all of buf on the (non-blocking) socket. Returns 0 or -errno. */
static int send_all(int fd, const uint8_t *buf, size_t len, int timeout_ms)
{
	while (len > 0) {
		ssize_t k = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			buf += k;
			len -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int r = poll(&p, 1, timeout_ms);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* The requests in flight when the stream broke or went out of step lost their answers
 * through no fault of their own (one garbage frame takes the window with it): each goes
 * out once more on the new connection, and fails with e the second time. */
static void requeue_inflight(struct mb_link *l, struct mb_xfer *x, struct inflight *fl, size_t *nfl,
			     bool *retried, size_t *redo, size_t *nredo, int e)
{
	for (size_t i = 0; i < *nfl; i++) {
		l->st.errors++;
		if (retried[fl[i].xi]) {
			x[fl[i].xi].rc = e;
			continue;
		}
		retried[fl[i].xi] = true;
		redo[(*nredo)++] = fl[i].xi;
	}
	*nfl = 0;
}

/* Takes the whole answers out of the receive buffer. Returns 0, or -EMBBADDATA when
 * the stream is out of step. */
static int take_answers(struct mb_link *l, struct mb_xfer *x, struct inflight *fl, size_t *nfl,
			size_t *answered)
{
	size_t at = 0;
	int rc = 0;

	for (;;) {
		int len = mbtcp_frame_len(l->rx + at, l->rx_len - at);
		if (len < 0) {
			rc = len;
			break;
		}
		if (len == 0)
			break;
		uint16_t tid = mbtcp_tid(l->rx + at);
		size_t i = 0;
		while (i < *nfl && fl[i].tid != tid)
			i++;
		if (i == *nfl) {
			/* Only the answer to a request given up on may come unasked; anything
			 * else means the stream is out of step. */
			size_t g = 0;
			while (g < l->n_gone && l->gone[g] != tid)
				g++;
			if (g == l->n_gone) {
				rc = -EMBBADDATA;
				break;
			}
			l->gone[g] = l->gone[--l->n_gone];
			l->st.late++;
		} else {
			struct mb_xfer *t = &x[fl[i].xi];
			t->rc = mbtcp_decode_read(l->rx + at, (size_t)len, t->unit, t->table,
						  t->count, t->dst);
			t->rtt_us = g_get_monotonic_time() - fl[i].sent;
			if (t->rc < 0)
				l->st.errors++;
			else
				(*answered)++;
			fl[i] = fl[--*nfl];
		}
		at += (size_t)len;
	}
	memmove(l->rx, l->rx + at, l->rx_len - at);
	l->rx_len -= at;
	return rc;
}

/* The pipelined reader; `again`: requests whose answer a broken or out-of-step stream
 * took go out once more. */
static size_t read_many(struct mb_link *l, struct mb_xfer *x, size_t n, bool again)
{
	struct inflight fl[MAX_PIPELINE];
	uint8_t tx[MAX_PIPELINE * MBTCP_REQ_LEN];
	size_t redo[MAX_PIPELINE];
	size_t nfl = 0, next = 0, nredo = 0, answered = 0;
	bool *retried;
	int window = mb_link_pipeline(l);
	int64_t timeout_us = (int64_t)l->bus->timeout_ms * 1000;

	if (l->bus->type != BUS_TCP) {
		for (size_t i = 0; i < n; i++)
			x[i].rc = -ENOTSUP; /* RTU has no transaction ids: one frame at a time */
		return 0;
	}
	retried = calloc(n ? n : 1, sizeof(*retried));
	if (!retried) {
		for (size_t i = 0; i < n; i++)
			x[i].rc = -ENOMEM;
		return 0;
	}
	if (!again)
		memset(retried, 1, n * sizeof(*retried)); /* as if each had been sent twice */
	while (next < n || nfl > 0 || nredo > 0) {
		if (!l->connected) {
			int e = mb_link_connect(l);
			if (e < 0) {
				for (; next < n; next++)
					x[next].rc = e;
				while (nredo > 0)
					x[redo[--nredo]].rc = e;
				break;
			}
		}
		int fd = modbus_get_socket(l->mb);
		size_t txlen = 0;
		int64_t now = g_get_monotonic_time();
		while ((nredo > 0 || next < n) && nfl < (size_t)window) {
			size_t xi = nredo > 0 ? redo[--nredo] : next++;
			fl[nfl++] = (struct inflight){xi, ++l->tid, now};
			mbtcp_encode_read(tx + txlen, l->tid, x[xi].unit, x[xi].table, x[xi].addr,
					  x[xi].count);
			txlen += MBTCP_REQ_LEN;
			l->st.requests++;
		}
		int e = txlen ? send_all(fd, tx, txlen, l->bus->timeout_ms) : 0;
		if (e == 0) {
			int64_t oldest = INT64_MAX;
			for (size_t i = 0; i < nfl; i++)
				if (fl[i].sent < oldest)
					oldest = fl[i].sent;
			int64_t wait = nfl ? oldest + timeout_us - g_get_monotonic_time() : 0;
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int r = wait > 0 ? poll(&p, 1, (int)((wait + 999) / 1000)) : 0;
			if (r > 0) {
				ssize_t k = recv(fd, l->rx + l->rx_len, sizeof(l->rx) - l->rx_len,
						 MSG_DONTWAIT);
				if (k > 0) {
					l->rx_len += (size_t)k;
					e = take_answers(l, x, fl, &nfl, &answered);
				} else if (k == 0) {
					e = -ECONNRESET;
				} else if (errno != EAGAIN && errno != EINTR) {
					e = -errno;
				}
			} else if (r < 0 && errno != EINTR) {
				e = -errno;
			}
		}
		if (e < 0) {
			/* The stream is out of step or broken: what is in flight is lost. */
			requeue_inflight(l, x, fl, &nfl, retried, redo, &nredo, e);
			mb_link_close(l);
			continue;
		}
		/* Requests whose answer did not come in time are given up. */
		now = g_get_monotonic_time();
		for (size_t i = 0; i < nfl;) {
			if (now - fl[i].sent < timeout_us) {
				i++;
				continue;
			}
			x[fl[i].xi].rc = -ETIMEDOUT;
			l->st.errors++;
			l->late_possible = true;
			if (l->n_gone < MAX_PIPELINE)
				l->gone[l->n_gone++] = fl[i].tid;
			else
				l->gone[l->gone_at++ % MAX_PIPELINE] = fl[i].tid;
			fl[i] = fl[--nfl];
		}
		/* Part of a frame, and the answer it belongs to given up: what follows could
		 * not be told apart from it. */
		if (l->rx_len > 0 && nfl == 0 && next == n && nredo == 0 && l->late_possible)
			mb_link_close(l);
	}
	free(retried);
	l->idle_since = g_get_monotonic_time();
	return answered;
}

size_t mb_link_read_many(struct mb_link *l, struct mb_xfer *x, size_t n)
{
	return read_many(l, x, n, true);
}

void mb_link_flush(struct mb_link *l)
{
	if (l->connected)
		modbus_flush(l->mb);
	l->idle_since = g_get_monotonic_time();
}

void mb_link_get_stats(const struct mb_link *l, struct mb_link_stats *out)
{
	*out = l->st;
}

int64_t mb_link_silence_us(const struct mb_link *l)
{
	return l->silence_us;
}
