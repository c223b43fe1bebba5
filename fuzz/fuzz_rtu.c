/* libFuzzer target: Modbus RTU answers as a bus worker meets them on a serial line. The
 * link (devices/link.c, libmodbus underneath) talks to a pseudo-terminal; a thread of
 * this process plays the device and answers each request with the input. The first 4
 * bytes choose what is asked (unit, table, count); the rest is the answer, CRC and all
 * (the seeds carry valid ones). No crash, no read or write outside the destination, and
 * an answer never claims more values than were asked for. Slow by nature (a short
 * answer waits for the 10 ms timeout): meant for long runs. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <pty.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/link.h"

static int master = -1;
static char slave[64];
static struct cfg_bus bus;
static struct mb_link *link_;
static GMutex mu;
static uint8_t answer[512];
static size_t answer_len;

/* The device: every time request bytes arrive, the current answer goes back once. */
static gpointer device(gpointer ud)
{
	uint8_t buf[512];

	(void)ud;
	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EIO)
				abort();
			continue;
		}
		g_mutex_lock(&mu);
		if (answer_len && write(master, answer, answer_len) < 0)
			abort();
		answer_len = 0;
		g_mutex_unlock(&mu);
	}
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int s;

	(void)argc;
	(void)argv;
	if (openpty(&master, &s, slave, NULL, NULL) < 0)
		abort();
	close(s); /* the link opens it by name, as a serial port */
	bus = (struct cfg_bus){.id = "rtu0",
			       .type = BUS_RTU,
			       .device = slave,
			       .baud = 115200,
			       .parity = PARITY_NONE,
			       .data_bits = 8,
			       .stop_bits = 1,
			       .timeout_ms = 10};
	if (mb_link_create(&bus, &link_) < 0 || mb_link_connect(link_) < 0)
		abort();
	g_thread_new("device", device, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t unit;
	enum mb_table t;
	uint16_t count;
	void *dst;
	int rc;

	if (size < 4 || size - 4 > sizeof(answer))
		return 0;
	unit = (uint8_t)(data[0] % 247 + 1);
	t = (enum mb_table)(data[1] % 4);
	count = (uint16_t)((((data[2] << 8) | data[3]) % 125) + 1);
	g_mutex_lock(&mu);
	memcpy(answer, data + 4, size - 4);
	answer_len = size - 4;
	g_mutex_unlock(&mu);
	/* Exactly the size of what was asked, so that ASan sees a write beyond it. */
	dst = malloc(t == MB_COIL || t == MB_DISCRETE ? count : (size_t)count * 2);
	if (!dst)
		abort();
	if (mb_link_connect(link_) < 0)
		abort();
	rc = mb_link_read(link_, unit, t, 0, count, dst, 0);
	if (rc > count)
		abort();
	free(dst);
	g_mutex_lock(&mu);
	answer_len = 0;
	g_mutex_unlock(&mu);
	mb_link_flush(link_);
	return 0;
}
