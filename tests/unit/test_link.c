/* The link (devices/link.c): the RTU inter-frame silence it enforces, and how a TCP read
 * one at a time (pipeline 1) takes answers that do not match the request or trickle in, from a
 * scripted peer on a loopback socket of this process. */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <modbus.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/link.h"

static int64_t silence(int baud, enum bus_parity parity, int data_bits, int stop_bits)
{
	struct cfg_bus b = {.id = "rtu0",
			    .type = BUS_RTU,
			    .device = "/dev/null",
			    .baud = baud,
			    .parity = parity,
			    .data_bits = data_bits,
			    .stop_bits = stop_bits,
			    .timeout_ms = 100};
	struct mb_link *l = NULL;
	assert_int_equal(mb_link_create(&b, &l), 0);
	int64_t us = mb_link_silence_us(l);
	mb_link_destroy(l);
	return us;
}

static void test_rtu_silence(void **state)
{
	(void)state;
	/* 3.5 characters of 10 bits (8N1) at 9600 baud: 3645.8 us, rounded up. */
	assert_int_equal(silence(9600, PARITY_NONE, 8, 1), 3646);
	/* 11 bits a character with parity (8E1): 4010.4 us. */
	assert_int_equal(silence(9600, PARITY_EVEN, 8, 1), 4011);
	/* 8N2 at 19200: 11 bits, 2005.2 us. */
	assert_int_equal(silence(19200, PARITY_NONE, 8, 2), 2006);
	/* Above 19200 baud the standard fixes it at 1750 us. */
	assert_int_equal(silence(38400, PARITY_NONE, 8, 1), 1750);
	assert_int_equal(silence(115200, PARITY_EVEN, 8, 1), 1750);
}

static void test_tcp_no_silence(void **state)
{
	(void)state;
	struct cfg_bus b = {
	    .id = "tcp0", .type = BUS_TCP, .host = "127.0.0.1", .port = 502, .timeout_ms = 100};
	struct mb_link *l = NULL;
	assert_int_equal(mb_link_create(&b, &l), 0);
	assert_int_equal(mb_link_silence_us(l), 0);
	assert_false(mb_link_is_connected(l));
	mb_link_destroy(l);
}

/* A peer that answers one request on each of `conns` connections with `ans` (its first
 * two bytes replaced by the request's transaction id), `gap_ms` between bytes (0: all at
 * once). */
struct peer {
	int lfd;
	uint8_t ans[64];
	size_t len;
	int gap_ms;
	int conns;
	GThread *th;
};

static void peer_serve(struct peer *p, int fd)
{
	uint8_t req[12];
	size_t got = 0;

	while (got < sizeof(req)) {
		ssize_t k = recv(fd, req + got, sizeof(req) - got, 0);
		if (k <= 0)
			return;
		got += (size_t)k;
	}
	p->ans[0] = req[0];
	p->ans[1] = req[1];
	if (p->gap_ms == 0) {
		(void)!send(fd, p->ans, p->len, MSG_NOSIGNAL);
	} else {
		for (size_t i = 0; i < p->len; i++) {
			if (send(fd, p->ans + i, 1, MSG_NOSIGNAL) != 1)
				break;
			g_usleep((gulong)p->gap_ms * 1000);
		}
	}
	/* Held open until the link gives up and closes its end. */
	while (recv(fd, req, sizeof(req), 0) > 0)
		;
}

static gpointer peer_main(gpointer p_)
{
	struct peer *p = p_;

	for (int c = 0; c < p->conns; c++) {
		int fd = accept(p->lfd, NULL, NULL);
		if (fd < 0)
			break;
		peer_serve(p, fd);
		close(fd);
	}
	return NULL;
}

static int peer_start(struct peer *p, const uint8_t *ans, size_t len, int gap_ms, int conns)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	memcpy(p->ans, ans, len);
	p->len = len;
	p->gap_ms = gap_ms;
	p->conns = conns;
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(p->lfd, 1), 0);
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &al), 0);
	p->th = g_thread_new("peer", peer_main, p);
	return ntohs(a.sin_port);
}

static void peer_stop(struct peer *p)
{
	/* A connection the link did not make (it gave up sooner) is not waited for. */
	shutdown(p->lfd, SHUT_RDWR);
	g_thread_join(p->th);
	close(p->lfd);
}

/* Reads 2 input registers from unit 1 through a TCP link (pipeline 1) whose peer answers
 * `ans`, on `conns` connections; returns what mb_link_read returned, *ms how long it took. */
static int read_from(const uint8_t *ans, size_t len, int gap_ms, int timeout_ms, int conns,
		     uint16_t *regs, int64_t *ms)
{
	struct peer p;
	struct cfg_bus b = {.id = "tcp0",
			    .type = BUS_TCP,
			    .host = "127.0.0.1",
			    .port = peer_start(&p, ans, len, gap_ms, conns),
			    .timeout_ms = timeout_ms,
			    .pipeline = 1};
	struct mb_link *l = NULL;

	assert_int_equal(mb_link_create(&b, &l), 0);
	assert_int_equal(mb_link_connect(l), 0);
	int64_t t0 = g_get_monotonic_time();
	int rc = mb_link_read(l, 1, MB_INPUT, 0, 2, regs, 0);
	*ms = (g_get_monotonic_time() - t0) / 1000;
	mb_link_destroy(l);
	peer_stop(&p);
	return rc;
}

/* tid, protocol 0, length 7, unit 1, function 04, 4 bytes: 0x1234 0x5678 */
#define GOOD_ANSWER 0, 0, 0, 0, 0, 7, 1, 4, 4, 0x12, 0x34, 0x56, 0x78

static void test_tcp_answer_matches(void **state)
{
	(void)state;
	const uint8_t good[] = {GOOD_ANSWER};
	uint16_t regs[2] = {0};
	int64_t ms;

	assert_int_equal(read_from(good, sizeof(good), 0, 1000, 1, regs, &ms), 2);
	assert_int_equal(regs[0], 0x1234);
	assert_int_equal(regs[1], 0x5678);
}

static void test_tcp_wrong_unit(void **state)
{
	(void)state;
	uint8_t ans[] = {GOOD_ANSWER};
	uint16_t regs[2] = {0};
	int64_t ms;

	ans[6] = 2; /* unit 2 answers a request to unit 1 */
	assert_int_equal(read_from(ans, sizeof(ans), 0, 1000, 1, regs, &ms), -EMBBADSLAVE);
	assert_int_equal(regs[0], 0);
}

static void test_tcp_impossible_length(void **state)
{
	(void)state;
	uint16_t regs[2] = {0};
	int64_t ms;
	/* The MBAP length says 0 or 65535 whatever follows: the stream is out of step, and
	 * the request fails (the peer would take a second connection: none is made). */
	for (int k = 0; k < 2; k++) {
		uint8_t ans[] = {GOOD_ANSWER};
		ans[4] = ans[5] = k ? 0xFF : 0x00;
		assert_int_equal(read_from(ans, sizeof(ans), 0, 300, 2, regs, &ms), -EMBBADDATA);
		assert_int_equal(regs[0], 0);
	}
}

/* One byte every 40 ms: the whole answer takes 480 ms, far beyond a 150 ms timeout although
 * no gap between two bytes reaches it. The request fails at the deadline. */
static void test_tcp_whole_request_deadline(void **state)
{
	(void)state;
	const uint8_t ans[] = {GOOD_ANSWER};
	uint16_t regs[2] = {0};
	int64_t ms;

	assert_int_equal(read_from(ans, sizeof(ans), 40, 150, 1, regs, &ms), -ETIMEDOUT);
	assert_true(ms >= 140);
	assert_true(ms < 300);
	/* Within the deadline, a trickle is fine. */
	assert_int_equal(read_from(ans, sizeof(ans), 5, 1000, 1, regs, &ms), 2);
	assert_int_equal(regs[1], 0x5678);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rtu_silence),
	    cmocka_unit_test(test_tcp_no_silence),
	    cmocka_unit_test(test_tcp_answer_matches),
	    cmocka_unit_test(test_tcp_wrong_unit),
	    cmocka_unit_test(test_tcp_impossible_length),
	    cmocka_unit_test(test_tcp_whole_request_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
