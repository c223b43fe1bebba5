/* A Modbus link over libmodbus, TCP or RTU, with the RTU inter-frame silence and the
 * per-device pause enforced here. Used by exactly one bus worker thread. */
#define LOG_TAG "link"
#include "devices/link.h"

#include <errno.h>
#include <glib.h>
#include <modbus.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/log.h"

struct mb_link {
	const struct cfg_bus *bus;
	modbus_t *mb;
	bool connected;
	bool fail_logged;
	int64_t silence_us;
	int64_t idle_since; /* monotonic us: end of the last frame exchange */
	struct mb_link_stats st;
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

	if (l->connected)
		return 0;
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
}

bool mb_link_is_connected(const struct mb_link *l)
{
	return l->connected;
}

static void before_frame(struct mb_link *l, int unit, int pause_ms)
{
	wait_until_us(l->idle_since + l->silence_us + (int64_t)pause_ms * 1000);
	modbus_set_slave(l->mb, unit);
}

static int after_frame(struct mb_link *l, int rc)
{
	int e = errno;

	l->idle_since = g_get_monotonic_time();
	l->st.requests++;
	if (rc >= 0)
		return rc;
	l->st.errors++;
	return e ? -e : -EIO;
}

int mb_link_read(struct mb_link *l, int unit, enum mb_table t, uint16_t addr, uint16_t count,
		 void *dst, int pause_ms)
{
	int rc;

	before_frame(l, unit, pause_ms);
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
	rc = after_frame(l, rc);
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
	if (t == MB_COIL)
		rc = modbus_write_bit(l->mb, addr, value ? 1 : 0);
	else
		rc = modbus_write_register(l->mb, addr, value);
	rc = after_frame(l, rc);
	return rc < 0 ? rc : 0;
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
