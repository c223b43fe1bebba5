/* hw-sim: a Modbus TCP simulator serving the two reference maps (docs: tests/tools/README.md).
 * The main thread owns the listen and client sockets and answers requests; one control thread
 * ticks the devices and reads commands from stdin. A mutex guards every unit's register bank. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIM_NB_UNITS 256
#define SIM_NB_BITS 16
#define SIM_NB_REGS (100 + 256 + 1)
#define SIM_MAX_CLIENTS 64
#define SIM_LINE_MAX 512
#define SIM_POLL_MS 200

/* Reference map addresses, zero-based (reference-devices.md). */
enum {
	FACP_SYSTEM_STATE = 0,
	FACP_LIFE_CHECK = 1,
	FACP_DATA_CHANGE = 2,
	FACP_ZONE_COUNT = 3,
	FACP_PANEL_TIME = 4,
	FACP_MAINS_VOLTAGE = 6,
	FACP_BATTERY_VOLTAGE = 7,
	FACP_ZONE_BASE = 100,
	FACP_DI_MANUAL_CALL_POINT = 0,
	FACP_DI_SOUNDER_ACTIVE = 1,
	FACP_COIL_SILENCE = 0,
	FACP_COIL_RESET = 1,
};

enum {
	ELC_CONTROLLER_STATE = 0,
	ELC_LIFE_CHECK = 1,
	ELC_LUMINAIRE_COUNT = 2,
	ELC_LUMINAIRES_FAULTY = 3,
	ELC_BATTERY_VOLTAGE = 4,
	ELC_BATTERY_CHARGE = 5,
	ELC_OUTPUT_CURRENT = 6,
	ELC_MAINS_VOLTAGE = 7,
	ELC_BATTERY_TEMPERATURE = 8,
	ELC_FT_LAST_TIME = 10,
	ELC_FT_LAST_RESULT = 12,
	ELC_FT_LAST_SECONDS = 13,
	ELC_DT_LAST_TIME = 14,
	ELC_DT_LAST_RESULT = 16,
	ELC_DT_LAST_MINUTES = 17,
	ELC_RATED_MINUTES = 18,
	ELC_LUMINAIRE_BASE = 100,
	ELC_COIL_START_FT = 0,
	ELC_COIL_START_DT = 1,
	ELC_COIL_STOP_TEST = 2,
};

/* Bits used by the simulated behaviour. */
#define FACP_ST_FIRE (1u << 0)
#define FACP_ST_SUPERVISORY (1u << 3)
#define FACP_ST_STARTED (1u << 4)
#define FACP_ST_FEEDBACK (1u << 5)
#define FACP_ST_DELAY (1u << 6)
#define FACP_ST_RESET (1u << 12)
#define FACP_ZONE_LATCHED 0x0079u /* fire, supervisory, started, feedback, pre-alarm */
#define ELC_ST_MAINS_FAULT (1u << 0)
#define ELC_ST_FT_RUNNING (1u << 4)
#define ELC_ST_DT_RUNNING (1u << 5)
#define ELC_ST_FT_OVERDUE (1u << 7)
#define ELC_ST_DT_OVERDUE (1u << 8)
#define ELC_ST_FT_FAILED (1u << 9)
#define ELC_ST_DT_FAILED (1u << 10)

#define RESULT_PASSED 1
#define RESULT_FAILED 2
#define RESULT_ABORTED 3

/* Simulated test lengths: a function test takes FT_TICKS ticks and reports FT_SECONDS on
 * battery; a duration test takes DT_TICKS ticks and reports the rated autonomy (two thirds of
 * it when it fails). */
#define FT_TICKS 3
#define FT_SECONDS 30
#define DT_TICKS 5
#define RESET_TICKS 2

enum unit_kind { UNIT_NONE = 0, UNIT_FACP, UNIT_ELC };

struct unit {
	enum unit_kind kind;
	modbus_mapping_t *map;
	bool silent;
	bool frozen;
	int ft_ticks; /* ticks left in a running function test, 0 = none */
	int dt_ticks; /* same for a duration test */
	int reset_ticks;
};

struct sim {
	pthread_mutex_t lock;
	struct unit units[SIM_NB_UNITS];
	double garbage_rate;
	int tick_ms;
	int zones;
	int luminaires;
};

static atomic_bool stop_flag; /* set by signals, `quit` and a failing select */

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint64_t rng_state;

static uint32_t rng_next(void)
{
	/* xorshift64*, main thread only */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static double rng_unit(void)
{
	return (double)rng_next() / 4294967296.0;
}

static void put_u32(uint16_t *regs, int addr, uint32_t v)
{
	regs[addr] = (uint16_t)(v >> 16);
	regs[addr + 1] = (uint16_t)(v & 0xffff);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- device behaviour, called with sim->lock held ---------------------------------------- */

static void facp_bump(struct unit *u)
{
	u->map->tab_input_registers[FACP_DATA_CHANGE]++;
}

static void facp_init(struct unit *u, int zones)
{
	uint16_t *ir = u->map->tab_input_registers;

	ir[FACP_ZONE_COUNT] = (uint16_t)zones;
	ir[FACP_MAINS_VOLTAGE] = 2200;
	ir[FACP_BATTERY_VOLTAGE] = 2700;
	put_u32(ir, FACP_PANEL_TIME, (uint32_t)time(NULL));
}

static void elc_init(struct unit *u, int luminaires)
{
	uint16_t *ir = u->map->tab_input_registers;

	ir[ELC_LUMINAIRE_COUNT] = (uint16_t)luminaires;
	ir[ELC_BATTERY_VOLTAGE] = 2640;
	ir[ELC_BATTERY_CHARGE] = 100;
	ir[ELC_OUTPUT_CURRENT] = 150;
	ir[ELC_MAINS_VOLTAGE] = 2210;
	ir[ELC_BATTERY_TEMPERATURE] = 235;
	ir[ELC_RATED_MINUTES] = 90;
}

/* Coils are pulse commands: a 1 written by a client or by `set` triggers the action and the
 * coil falls back to 0. */
static void facp_coils(struct unit *u)
{
	uint8_t *co = u->map->tab_bits;
	uint8_t *di = u->map->tab_input_bits;
	uint16_t *ir = u->map->tab_input_registers;

	if (co[FACP_COIL_SILENCE]) {
		co[FACP_COIL_SILENCE] = 0;
		if (di[FACP_DI_SOUNDER_ACTIVE]) {
			di[FACP_DI_SOUNDER_ACTIVE] = 0;
			facp_bump(u);
		}
	}
	if (co[FACP_COIL_RESET]) {
		co[FACP_COIL_RESET] = 0;
		if (u->reset_ticks == 0) {
			u->reset_ticks = RESET_TICKS;
			ir[FACP_SYSTEM_STATE] |= FACP_ST_RESET;
			facp_bump(u);
		}
	}
}

static void facp_reset_done(struct unit *u)
{
	uint16_t *ir = u->map->tab_input_registers;
	int z;

	ir[FACP_SYSTEM_STATE] &= (uint16_t) ~(FACP_ST_FIRE | FACP_ST_SUPERVISORY | FACP_ST_STARTED |
					      FACP_ST_FEEDBACK | FACP_ST_DELAY | FACP_ST_RESET);
	for (z = FACP_ZONE_BASE; z < SIM_NB_REGS; z++)
		ir[z] &= (uint16_t)~FACP_ZONE_LATCHED;
	u->map->tab_input_bits[FACP_DI_MANUAL_CALL_POINT] = 0;
	u->map->tab_input_bits[FACP_DI_SOUNDER_ACTIVE] = 0;
	facp_bump(u);
}

static void facp_tick(struct unit *u)
{
	uint16_t *ir = u->map->tab_input_registers;

	if (!u->frozen)
		ir[FACP_LIFE_CHECK]++;
	put_u32(ir, FACP_PANEL_TIME, (uint32_t)time(NULL));
	if (u->reset_ticks > 0 && --u->reset_ticks == 0)
		facp_reset_done(u);
}

static void elc_finish_test(struct unit *u, bool duration, int result)
{
	uint16_t *ir = u->map->tab_input_registers;
	uint16_t failed_bit = duration ? ELC_ST_DT_FAILED : ELC_ST_FT_FAILED;
	uint16_t overdue_bit = duration ? ELC_ST_DT_OVERDUE : ELC_ST_FT_OVERDUE;
	int base = duration ? ELC_DT_LAST_TIME : ELC_FT_LAST_TIME;

	ir[ELC_CONTROLLER_STATE] &= (uint16_t) ~(duration ? ELC_ST_DT_RUNNING : ELC_ST_FT_RUNNING);
	put_u32(ir, base, (uint32_t)time(NULL));
	ir[base + 2] = (uint16_t)result;
	if (duration && result == RESULT_FAILED)
		ir[ELC_DT_LAST_MINUTES] = (uint16_t)(ir[ELC_RATED_MINUTES] * 2 / 3);
	else if (duration)
		ir[ELC_DT_LAST_MINUTES] = result == RESULT_ABORTED ? 0 : ir[ELC_RATED_MINUTES];
	else
		ir[ELC_FT_LAST_SECONDS] = result == RESULT_ABORTED ? 0 : FT_SECONDS;
	if (result == RESULT_FAILED)
		ir[ELC_CONTROLLER_STATE] |= failed_bit;
	else if (result == RESULT_PASSED)
		ir[ELC_CONTROLLER_STATE] &= (uint16_t) ~(failed_bit | overdue_bit);
}

static int elc_outcome(const struct unit *u)
{
	const uint16_t *ir = u->map->tab_input_registers;

	if (ir[ELC_CONTROLLER_STATE] & ELC_ST_MAINS_FAULT)
		return RESULT_ABORTED;
	return ir[ELC_LUMINAIRES_FAULTY] ? RESULT_FAILED : RESULT_PASSED;
}

static void elc_coils(struct unit *u)
{
	uint8_t *co = u->map->tab_bits;
	uint16_t *ir = u->map->tab_input_registers;
	bool running = u->ft_ticks > 0 || u->dt_ticks > 0;

	if (co[ELC_COIL_STOP_TEST]) {
		co[ELC_COIL_STOP_TEST] = 0;
		if (u->ft_ticks > 0)
			elc_finish_test(u, false, RESULT_ABORTED);
		if (u->dt_ticks > 0)
			elc_finish_test(u, true, RESULT_ABORTED);
		u->ft_ticks = u->dt_ticks = 0;
		running = false;
	}
	if (co[ELC_COIL_START_FT]) {
		co[ELC_COIL_START_FT] = 0;
		if (!running) {
			u->ft_ticks = FT_TICKS;
			ir[ELC_CONTROLLER_STATE] |= ELC_ST_FT_RUNNING;
			running = true;
		}
	}
	if (co[ELC_COIL_START_DT]) {
		co[ELC_COIL_START_DT] = 0;
		if (!running) {
			u->dt_ticks = DT_TICKS;
			ir[ELC_CONTROLLER_STATE] |= ELC_ST_DT_RUNNING;
		}
	}
}

static void elc_tick(struct unit *u)
{
	if (!u->frozen)
		u->map->tab_input_registers[ELC_LIFE_CHECK]++;
	if (u->ft_ticks > 0 && --u->ft_ticks == 0)
		elc_finish_test(u, false, elc_outcome(u));
	if (u->dt_ticks > 0 && --u->dt_ticks == 0)
		elc_finish_test(u, true, elc_outcome(u));
}

static void unit_coils(struct unit *u)
{
	if (u->kind == UNIT_FACP)
		facp_coils(u);
	else if (u->kind == UNIT_ELC)
		elc_coils(u);
}

static void sim_tick(struct sim *sim)
{
	int i;

	pthread_mutex_lock(&sim->lock);
	for (i = 0; i < SIM_NB_UNITS; i++) {
		struct unit *u = &sim->units[i];

		if (u->kind == UNIT_FACP)
			facp_tick(u);
		else if (u->kind == UNIT_ELC)
			elc_tick(u);
	}
	pthread_mutex_unlock(&sim->lock);
}

/* ---- control interface (control thread) -------------------------------------------------- */

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_rate(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		return false;
	*out = v;
	return true;
}

enum table { TAB_COIL, TAB_DISCRETE, TAB_INPUT, TAB_HOLDING, TAB_BAD };

static enum table parse_table(const char *s)
{
	if (s == NULL)
		return TAB_BAD;
	if (strcmp(s, "coil") == 0)
		return TAB_COIL;
	if (strcmp(s, "discrete") == 0)
		return TAB_DISCRETE;
	if (strcmp(s, "input") == 0)
		return TAB_INPUT;
	if (strcmp(s, "holding") == 0)
		return TAB_HOLDING;
	return TAB_BAD;
}

/* Returns the unit for a configured id, or NULL after answering the error. */
static struct unit *lookup_unit(struct sim *sim, const char *s)
{
	long id;

	if (!parse_long(s, 0, SIM_NB_UNITS - 1, &id)) {
		reply("error bad unit id");
		return NULL;
	}
	if (sim->units[id].kind == UNIT_NONE) {
		reply("error unit %ld not configured", id);
		return NULL;
	}
	return &sim->units[id];
}

static void cmd_set_get(struct sim *sim, char **argv, int argc, bool set)
{
	struct unit *u;
	enum table t;
	long addr, value = 0;
	bool bits;

	if (argc != (set ? 5 : 4)) {
		reply(set ? "error usage: set UNIT TABLE ADDR VALUE"
			  : "error usage: get UNIT TABLE ADDR");
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	t = parse_table(argv[2]);
	if (t == TAB_BAD) {
		reply("error table must be coil, discrete, input or holding");
		return;
	}
	bits = t == TAB_COIL || t == TAB_DISCRETE;
	if (!parse_long(argv[3], 0, (bits ? SIM_NB_BITS : SIM_NB_REGS) - 1, &addr)) {
		reply("error address out of range 0..%d", (bits ? SIM_NB_BITS : SIM_NB_REGS) - 1);
		return;
	}
	if (set && !parse_long(argv[4], bits ? 0 : -32768, bits ? 1 : 65535, &value)) {
		reply(bits ? "error value must be 0 or 1" : "error value must be -32768..65535");
		return;
	}

	pthread_mutex_lock(&sim->lock);
	if (!set) {
		unsigned v = 0;

		switch (t) {
		case TAB_COIL:
			v = u->map->tab_bits[addr];
			break;
		case TAB_DISCRETE:
			v = u->map->tab_input_bits[addr];
			break;
		case TAB_INPUT:
			v = u->map->tab_input_registers[addr];
			break;
		default:
			v = u->map->tab_registers[addr];
			break;
		}
		pthread_mutex_unlock(&sim->lock);
		reply("ok %u", v);
		return;
	}

	{
		bool changed = false;
		uint16_t v16 = (uint16_t)(value & 0xffff);

		switch (t) {
		case TAB_COIL:
			u->map->tab_bits[addr] = (uint8_t)value;
			unit_coils(u);
			break;
		case TAB_DISCRETE:
			changed = u->map->tab_input_bits[addr] != value;
			u->map->tab_input_bits[addr] = (uint8_t)value;
			break;
		case TAB_INPUT:
			changed = u->map->tab_input_registers[addr] != v16;
			u->map->tab_input_registers[addr] = v16;
			/* the two counters themselves are not state */
			if (u->kind == UNIT_FACP &&
			    (addr == FACP_LIFE_CHECK || addr == FACP_DATA_CHANGE))
				changed = false;
			break;
		default:
			changed = u->map->tab_registers[addr] != v16;
			u->map->tab_registers[addr] = v16;
			break;
		}
		if (changed && u->kind == UNIT_FACP)
			facp_bump(u);
	}
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

static void cmd_flag(struct sim *sim, char **argv, int argc, size_t off, bool value)
{
	struct unit *u;

	if (argc != 2) {
		reply("error usage: %s UNIT", argv[0]);
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	pthread_mutex_lock(&sim->lock);
	*(bool *)((char *)u + off) = value;
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

/* Returns true on `quit`. */
static bool handle_line(struct sim *sim, char *line)
{
	char *argv[8];
	int argc = 0;
	char *save = NULL;
	char *tok;

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL && argc < 8;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	if (tok != NULL) {
		reply("error too many arguments");
		return false;
	}
	if (argc == 0)
		return false;

	if (strcmp(argv[0], "set") == 0) {
		cmd_set_get(sim, argv, argc, true);
	} else if (strcmp(argv[0], "get") == 0) {
		cmd_set_get(sim, argv, argc, false);
	} else if (strcmp(argv[0], "freeze") == 0) {
		cmd_flag(sim, argv, argc, offsetof(struct unit, frozen), true);
	} else if (strcmp(argv[0], "unfreeze") == 0) {
		cmd_flag(sim, argv, argc, offsetof(struct unit, frozen), false);
	} else if (strcmp(argv[0], "silent") == 0) {
		cmd_flag(sim, argv, argc, offsetof(struct unit, silent), true);
	} else if (strcmp(argv[0], "unsilent") == 0) {
		cmd_flag(sim, argv, argc, offsetof(struct unit, silent), false);
	} else if (strcmp(argv[0], "garbage") == 0) {
		double rate;

		if (argc != 2 || !parse_rate(argv[1], &rate)) {
			reply("error usage: garbage RATE (0..1)");
		} else {
			pthread_mutex_lock(&sim->lock);
			sim->garbage_rate = rate;
			pthread_mutex_unlock(&sim->lock);
			reply("ok");
		}
	} else if (strcmp(argv[0], "quit") == 0) {
		reply("ok");
		return true;
	} else {
		reply("error unknown command %s", argv[0]);
	}
	return false;
}

/* Ticks every sim->tick_ms and reads stdin until EOF, then only ticks. */
static void *control_main(void *arg)
{
	struct sim *sim = arg;
	char buf[SIM_LINE_MAX];
	size_t len = 0;
	bool discard = false; /* skipping the rest of an overlong line */
	bool eof = false;
	int64_t next_tick = now_ms() + sim->tick_ms;

	while (!stop_flag) {
		int64_t now = now_ms();
		int timeout;
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int n;

		if (now >= next_tick) {
			sim_tick(sim);
			next_tick += sim->tick_ms;
			if (next_tick <= now) /* fell behind: do not burst */
				next_tick = now + sim->tick_ms;
			continue;
		}
		timeout = (int)(next_tick - now);
		if (timeout > SIM_POLL_MS)
			timeout = SIM_POLL_MS;
		if (eof) {
			poll(NULL, 0, timeout);
			continue;
		}
		n = poll(&pfd, 1, timeout);
		if (n <= 0)
			continue;
		{
			ssize_t r = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
			char *nl;

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				eof = true;
				continue;
			}
			len += (size_t)r;
			buf[len] = '\0';
			while ((nl = memchr(buf, '\n', len)) != NULL) {
				size_t used = (size_t)(nl - buf) + 1;

				*nl = '\0';
				if (!discard && handle_line(sim, buf))
					stop_flag = 1;
				discard = false;
				memmove(buf, buf + used, len - used);
				len -= used;
				buf[len] = '\0';
			}
			if (len == sizeof(buf) - 1) {
				if (!discard)
					reply("error line too long");
				discard = true;
				len = 0;
			}
		}
	}
	return NULL;
}

/* ---- Modbus service (main thread) -------------------------------------------------------- */

static void send_garbage(int fd)
{
	uint8_t junk[MODBUS_TCP_MAX_ADU_LENGTH];
	size_t n = 1 + rng_next() % 64;
	size_t i;

	for (i = 0; i < n; i++)
		junk[i] = (uint8_t)rng_next();
	if (send(fd, junk, n, MSG_NOSIGNAL) < 0)
		fprintf(stderr, "hw-sim: send: %s\n", strerror(errno));
}

/* Serves one request on fd. Returns false when the connection is to be closed. */
static bool serve_request(struct sim *sim, modbus_t *ctx, int fd)
{
	uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
	int hl = modbus_get_header_length(ctx);
	int rc;
	struct unit *u;

	modbus_set_socket(ctx, fd);
	rc = modbus_receive(ctx, req);
	if (rc < 0)
		return false;
	if (rc < hl + 1)
		return true;

	pthread_mutex_lock(&sim->lock);
	u = &sim->units[req[hl - 1]];
	if (u->kind == UNIT_NONE || u->silent) {
		/* like a gateway whose target does not answer: no reply at all */
	} else if (sim->garbage_rate > 0.0 && rng_unit() < sim->garbage_rate) {
		send_garbage(fd);
	} else {
		if (modbus_reply(ctx, req, rc, u->map) < 0)
			rc = -1;
		unit_coils(u);
	}
	pthread_mutex_unlock(&sim->lock);
	return rc >= 0;
}

static int serve(struct sim *sim, modbus_t *ctx, int listen_fd)
{
	int clients[SIM_MAX_CLIENTS];
	int nclients = 0;
	int i;

	while (!stop_flag) {
		fd_set rfds;
		struct timeval tv = {.tv_sec = 0, .tv_usec = SIM_POLL_MS * 1000};
		int maxfd = listen_fd;
		int n;

		FD_ZERO(&rfds);
		FD_SET(listen_fd, &rfds);
		for (i = 0; i < nclients; i++) {
			FD_SET(clients[i], &rfds);
			if (clients[i] > maxfd)
				maxfd = clients[i];
		}
		n = select(maxfd + 1, &rfds, NULL, NULL, &tv);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "hw-sim: select: %s\n", strerror(errno));
			break;
		}
		if (n == 0)
			continue;
		if (FD_ISSET(listen_fd, &rfds)) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && (nclients == SIM_MAX_CLIENTS || fd >= FD_SETSIZE)) {
				fprintf(stderr, "hw-sim: too many clients, refusing one\n");
				close(fd);
			} else if (fd >= 0) {
				int one = 1;

				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				clients[nclients++] = fd;
			}
		}
		for (i = 0; i < nclients; i++) {
			if (!FD_ISSET(clients[i], &rfds))
				continue;
			if (!serve_request(sim, ctx, clients[i])) {
				close(clients[i]);
				clients[i] = clients[--nclients];
				/* the moved client may not have been checked yet: re-check slot i,
				 * its FD_ISSET bit is still valid */
				i--;
			}
		}
	}
	for (i = 0; i < nclients; i++)
		close(clients[i]);
	return 0;
}

/* ---- startup ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hw-sim --port P [--bind ADDR] --facp UNIT[,UNIT...] --elc UNIT[,UNIT...]\n"
		"              [--zones N] [--luminaires N] [--garbage-rate R] [--tick-ms MS]\n");
}

static int add_units(struct sim *sim, const char *list, enum unit_kind kind)
{
	char *copy = strdup(list);
	char *save = NULL;
	char *tok;
	int rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		long id;

		if (!parse_long(tok, 0, SIM_NB_UNITS - 1, &id)) {
			fprintf(stderr, "hw-sim: bad unit id '%s'\n", tok);
			rc = -EINVAL;
			break;
		}
		if (sim->units[id].kind != UNIT_NONE) {
			fprintf(stderr, "hw-sim: unit %ld given twice\n", id);
			rc = -EINVAL;
			break;
		}
		sim->units[id].kind = kind;
	}
	free(copy);
	return rc;
}

static int parse_args(struct sim *sim, int argc, char **argv, long *port, const char **bind_addr)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"bind", required_argument, NULL, 'b'},
	    {"facp", required_argument, NULL, 'f'},
	    {"elc", required_argument, NULL, 'e'},
	    {"zones", required_argument, NULL, 'z'},
	    {"luminaires", required_argument, NULL, 'l'},
	    {"garbage-rate", required_argument, NULL, 'g'},
	    {"tick-ms", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long v;
	int c;

	*port = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!parse_long(optarg, 0, 65535, port))
				goto bad;
			break;
		case 'b':
			*bind_addr = optarg;
			break;
		case 'f':
			if (add_units(sim, optarg, UNIT_FACP) < 0)
				return -EINVAL;
			break;
		case 'e':
			if (add_units(sim, optarg, UNIT_ELC) < 0)
				return -EINVAL;
			break;
		case 'z':
			if (!parse_long(optarg, 1, 128, &v))
				goto bad;
			sim->zones = (int)v;
			break;
		case 'l':
			if (!parse_long(optarg, 1, 256, &v))
				goto bad;
			sim->luminaires = (int)v;
			break;
		case 'g':
			if (!parse_rate(optarg, &sim->garbage_rate))
				goto bad;
			break;
		case 't':
			if (!parse_long(optarg, 10, 3600000, &v))
				goto bad;
			sim->tick_ms = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || *port < 0) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "hw-sim: bad option value '%s'\n", optarg);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static struct sim sim;
	const char *bind_addr = "127.0.0.1";
	struct sigaction sa;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	pthread_t control;
	modbus_t *ctx;
	long port;
	int listen_fd;
	int rc = 1;
	int i, nunits = 0;

	sim.tick_ms = 1000;
	sim.zones = 8;
	sim.luminaires = 16;
	if (parse_args(&sim, argc, argv, &port, &bind_addr) < 0)
		return 2;
	pthread_mutex_init(&sim.lock, NULL);

	for (i = 0; i < SIM_NB_UNITS; i++) {
		struct unit *u = &sim.units[i];

		if (u->kind == UNIT_NONE)
			continue;
		u->map = modbus_mapping_new(SIM_NB_BITS, SIM_NB_BITS, SIM_NB_REGS, SIM_NB_REGS);
		if (u->map == NULL) {
			fprintf(stderr, "hw-sim: mapping: %s\n", modbus_strerror(errno));
			goto out_maps;
		}
		if (u->kind == UNIT_FACP)
			facp_init(u, sim.zones);
		else
			elc_init(u, sim.luminaires);
		nunits++;
	}
	if (nunits == 0) {
		fprintf(stderr, "hw-sim: no unit configured (--facp / --elc)\n");
		usage(stderr);
		rc = 2;
		goto out_maps;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rng_state = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;

	ctx = modbus_new_tcp(bind_addr, (int)port);
	if (ctx == NULL) {
		fprintf(stderr, "hw-sim: modbus_new_tcp: %s\n", modbus_strerror(errno));
		goto out_maps;
	}
	/* a request that is announced but never completes must not stall the other clients */
	modbus_set_indication_timeout(ctx, 1, 0);
	listen_fd = modbus_tcp_listen(ctx, 16);
	if (listen_fd < 0) {
		fprintf(stderr, "hw-sim: listen on %s:%ld: %s\n", bind_addr, port,
			modbus_strerror(errno));
		goto out_ctx;
	}
	if (getsockname(listen_fd, (struct sockaddr *)&ss, &sslen) < 0) {
		fprintf(stderr, "hw-sim: getsockname: %s\n", strerror(errno));
		goto out_listen;
	}
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
	printf("READY port=%ld\n", port);
	fflush(stdout);

	if (pthread_create(&control, NULL, control_main, &sim) != 0) {
		fprintf(stderr, "hw-sim: cannot start the control thread\n");
		goto out_listen;
	}
	rc = serve(&sim, ctx, listen_fd);
	stop_flag = 1;
	pthread_join(control, NULL);

out_listen:
	close(listen_fd);
out_ctx:
	modbus_set_socket(ctx, -1);
	modbus_free(ctx);
out_maps:
	for (i = 0; i < SIM_NB_UNITS; i++) {
		if (sim.units[i].map != NULL)
			modbus_mapping_free(sim.units[i].map);
	}
	pthread_mutex_destroy(&sim.lock);
	return rc;
}
