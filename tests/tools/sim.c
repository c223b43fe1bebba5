/* hw-sim: a Modbus TCP or RTU simulator serving the two reference maps (docs:
 * tests/tools/README.md). The main thread owns the listen and client sockets, or the serial
 * line, and answers requests; one control thread ticks the devices and reads commands from
 * stdin. A mutex guards every unit's register bank and fault settings. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
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
#define SIM_MAX_REFUSED 8
#define SIM_RTU_MAX_UNIT 247
#define SIM_MAX_PENDING 256
#define SIM_MAX_ADU 260	    /* largest TCP ADU; an RTU ADU is at most 256 */
#define SIM_RTU_BYTE_MS 100 /* a partial RTU frame is dropped after this much silence */

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

#define LUM_FT_FAILED (1u << 6)
#define LUM_DT_FAILED (1u << 7)

#define RESULT_PASSED 1
#define RESULT_FAILED 2
#define RESULT_ABORTED 3

/* Simulated test lengths: a function test takes FT_TICKS ticks and reports FT_SECONDS on
 * battery; a duration test takes DT_TICKS ticks and reports the rated autonomy (two thirds of
 * it when a luminaire fails it). A battery that lasts less than the rated time (`battery`)
 * ends the duration test early, failed, with the minutes it lasted. */
#define FT_TICKS 3
#define FT_SECONDS 30
#define DT_TICKS 5
#define RESET_TICKS 2

enum unit_kind { UNIT_NONE = 0, UNIT_FACP, UNIT_ELC };

enum table { TAB_COIL, TAB_DISCRETE, TAB_INPUT, TAB_HOLDING, TAB_BAD };

/* Addresses [from, to] of one table that reads are refused for (exception `code`). */
struct refusal {
	enum table table;
	uint16_t from;
	uint16_t to;
	uint8_t code;
};

/* How a unit's TCP answers lie about themselves (`lie`). */
enum lie { LIE_NONE = 0, LIE_UNIT, LIE_LEN0, LIE_LEN65535 };

struct unit {
	enum unit_kind kind;
	modbus_mapping_t *map;
	bool silent;
	bool frozen;
	int delay_ms;	    /* every answer leaves this much later */
	int dribble_ms;	    /* TCP: answers leave one byte every dribble_ms */
	enum lie lie;	    /* TCP: what the answers' header says wrongly */
	bool counter_stuck; /* facp: data_change no longer moves */
	struct refusal refused[SIM_MAX_REFUSED];
	int n_refused;
	int ft_ticks; /* ticks left in a running function test, 0 = none */
	int dt_ticks; /* same for a duration test */
	int reset_ticks;
	int test_ticks;	    /* ticks a function test lasts (`testlen`, default FT_TICKS) */
	int dt_test_ticks;  /* ticks a duration test lasts (`testlen ... duration`, DT_TICKS) */
	int battery_min;    /* minutes the battery lasts (`battery`), 0: the rated time */
	bool dt_short;	    /* the running duration test ends with the battery flat */
	unsigned ft_starts; /* start_function_test coil writes received (`starts`) */
	unsigned dt_starts; /* start_duration_test coil writes received */
};

/* A TCP answer waiting for its unit's delay. */
struct pending {
	int fd;
	int64_t due_ms;
	int dribble_ms; /* > 0: sent one byte at a time, this far apart */
	int sent;	/* bytes already sent */
	int len;
	uint8_t buf[SIM_MAX_ADU];
};

struct sim {
	pthread_mutex_t lock;
	struct unit units[SIM_NB_UNITS];
	double garbage_rate;
	int tick_ms;
	int zones;
	int luminaires;
	/* RTU line (--rtu), NULL for TCP */
	const char *rtu_path;
	int baud;
	char parity;
	int data_bits;
	int stop_bits;
	bool pace;
	/* `drop`: the control thread asks, the TCP loop closes its clients and answers */
	pthread_mutex_t drop_lock;
	pthread_cond_t drop_cond;
	int wake_fd[2]; /* written by the control thread to wake the TCP loop */
	bool drop_asked;
	bool drop_done;
	int drop_closed;
	/* main thread only: the TCP answers waiting for a delay; a socket pair that
	 * captures what libmodbus would send so that it can be delayed or paced */
	struct pending *pending;
	int n_pending;
	int capture[2];
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
	if (u->counter_stuck)
		return;
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
	if (duration && result == RESULT_FAILED && u->dt_short)
		ir[ELC_DT_LAST_MINUTES] = (uint16_t)u->battery_min;
	else if (duration && result == RESULT_FAILED)
		ir[ELC_DT_LAST_MINUTES] = (uint16_t)(ir[ELC_RATED_MINUTES] * 2 / 3);
	else if (duration)
		ir[ELC_DT_LAST_MINUTES] = result == RESULT_ABORTED ? 0 : ir[ELC_RATED_MINUTES];
	else
		ir[ELC_FT_LAST_SECONDS] = result == RESULT_ABORTED ? 0 : FT_SECONDS;
	if (duration)
		u->dt_short = false;
	if (result == RESULT_FAILED)
		ir[ELC_CONTROLLER_STATE] |= failed_bit;
	else if (result == RESULT_PASSED)
		ir[ELC_CONTROLLER_STATE] &= (uint16_t) ~(failed_bit | overdue_bit);
	/* A luminaire with a fault (b0..b3) fails the test: its own b6 / b7 follows. */
	for (int i = 0; i < ir[ELC_LUMINAIRE_COUNT] && i < 256; i++) {
		uint16_t *w = &ir[ELC_LUMINAIRE_BASE + i];
		uint16_t lf = duration ? LUM_DT_FAILED : LUM_FT_FAILED;

		if (result == RESULT_ABORTED)
			continue;
		if (*w & 0x0Fu)
			*w |= lf;
		else
			*w &= (uint16_t)~lf;
	}
}

static int elc_outcome(const struct unit *u, bool duration)
{
	const uint16_t *ir = u->map->tab_input_registers;

	if (ir[ELC_CONTROLLER_STATE] & ELC_ST_MAINS_FAULT)
		return RESULT_ABORTED;
	if (duration && u->dt_short)
		return RESULT_FAILED;
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
		u->ft_starts++;
		if (!running) {
			u->ft_ticks = u->test_ticks > 0 ? u->test_ticks : FT_TICKS;
			ir[ELC_CONTROLLER_STATE] |= ELC_ST_FT_RUNNING;
			running = true;
		}
	}
	if (co[ELC_COIL_START_DT]) {
		co[ELC_COIL_START_DT] = 0;
		u->dt_starts++;
		if (!running) {
			int rated = ir[ELC_RATED_MINUTES];

			u->dt_ticks = u->dt_test_ticks > 0 ? u->dt_test_ticks : DT_TICKS;
			/* a battery that does not last: flat after its share of the test */
			u->dt_short = u->battery_min > 0 && u->battery_min < rated;
			if (u->dt_short && u->dt_ticks * u->battery_min / rated >= 1)
				u->dt_ticks = u->dt_ticks * u->battery_min / rated;
			ir[ELC_CONTROLLER_STATE] |= ELC_ST_DT_RUNNING;
		}
	}
}

static void elc_tick(struct unit *u)
{
	if (!u->frozen)
		u->map->tab_input_registers[ELC_LIFE_CHECK]++;
	if (u->ft_ticks > 0 && --u->ft_ticks == 0)
		elc_finish_test(u, false, elc_outcome(u, false));
	if (u->dt_ticks > 0 && --u->dt_ticks == 0)
		elc_finish_test(u, true, elc_outcome(u, true));
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

static void cmd_refuse(struct sim *sim, char **argv, int argc)
{
	struct unit *u;
	enum table t;
	long from, to;

	long code = MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;

	if (argc != 5 && argc != 6) {
		reply("error usage: refuse UNIT TABLE FROM TO [CODE]");
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
	if (!parse_long(argv[3], 0, 65535, &from) || !parse_long(argv[4], from, 65535, &to)) {
		reply("error addresses must be 0 <= FROM <= TO <= 65535");
		return;
	}
	if (argc == 6 && !parse_long(argv[5], 1, 255, &code)) {
		reply("error exception code must be 1..255");
		return;
	}
	pthread_mutex_lock(&sim->lock);
	if (u->n_refused == SIM_MAX_REFUSED) {
		pthread_mutex_unlock(&sim->lock);
		reply("error at most %d refused ranges per unit", SIM_MAX_REFUSED);
		return;
	}
	u->refused[u->n_refused++] = (struct refusal){
	    .table = t, .from = (uint16_t)from, .to = (uint16_t)to, .code = (uint8_t)code};
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

static void cmd_unrefuse(struct sim *sim, char **argv, int argc)
{
	struct unit *u;

	if (argc != 2) {
		reply("error usage: unrefuse UNIT");
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	pthread_mutex_lock(&sim->lock);
	u->n_refused = 0;
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

static void cmd_delay(struct sim *sim, char **argv, int argc)
{
	struct unit *u;
	long ms;

	if (argc != 3) {
		reply("error usage: delay UNIT MS");
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	if (!parse_long(argv[2], 0, 600000, &ms)) {
		reply("error delay must be 0..600000 ms");
		return;
	}
	pthread_mutex_lock(&sim->lock);
	u->delay_ms = (int)ms;
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

static void cmd_dribble(struct sim *sim, char **argv, int argc)
{
	struct unit *u;
	long ms;

	if (argc != 3) {
		reply("error usage: dribble UNIT MS");
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	if (sim->rtu_path != NULL) {
		reply("error dribble needs a TCP simulator (--port)");
		return;
	}
	if (!parse_long(argv[2], 0, 60000, &ms)) {
		reply("error dribble must be 0..60000 ms");
		return;
	}
	pthread_mutex_lock(&sim->lock);
	u->dribble_ms = (int)ms;
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

/* starts UNIT function|duration: how many start commands the controller received. */
static void cmd_starts(struct sim *sim, char **argv, int argc)
{
	struct unit *u;
	bool dt;

	if (argc != 3 || (strcmp(argv[2], "function") != 0 && strcmp(argv[2], "duration") != 0)) {
		reply("error usage: starts UNIT function|duration");
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	if (u->kind != UNIT_ELC) {
		reply("error unit %s is not a controller", argv[1]);
		return;
	}
	dt = strcmp(argv[2], "duration") == 0;
	pthread_mutex_lock(&sim->lock);
	reply("ok %u", dt ? u->dt_starts : u->ft_starts);
	pthread_mutex_unlock(&sim->lock);
}

/* testlen UNIT TICKS [function|duration]: how long the unit's function (or duration) tests
 * last from now on. */
static void cmd_testlen(struct sim *sim, char **argv, int argc)
{
	struct unit *u;
	long ticks;
	bool dt = argc == 4 && strcmp(argv[3], "duration") == 0;

	if ((argc != 3 && argc != 4) || (argc == 4 && !dt && strcmp(argv[3], "function") != 0)) {
		reply("error usage: testlen UNIT TICKS [function|duration]");
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	if (!parse_long(argv[2], 1, 100000, &ticks)) {
		reply("error testlen must be 1..100000 ticks");
		return;
	}
	pthread_mutex_lock(&sim->lock);
	if (dt)
		u->dt_test_ticks = (int)ticks;
	else
		u->test_ticks = (int)ticks;
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

/* battery UNIT MINUTES: how long the unit's battery lasts on a duration test (0: as long as
 * the rated time). */
static void cmd_battery(struct sim *sim, char **argv, int argc)
{
	struct unit *u;
	long minutes;

	if (argc != 3) {
		reply("error usage: battery UNIT MINUTES");
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	if (u->kind != UNIT_ELC) {
		reply("error unit %s is not a controller", argv[1]);
		return;
	}
	if (!parse_long(argv[2], 0, 65535, &minutes)) {
		reply("error battery must be 0..65535 minutes");
		return;
	}
	pthread_mutex_lock(&sim->lock);
	u->battery_min = (int)minutes;
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

static void cmd_lie(struct sim *sim, char **argv, int argc)
{
	static const char *const names[] = {"none", "unit", "len0", "len65535"};
	struct unit *u;
	int k;

	if (argc != 3) {
		reply("error usage: lie UNIT none|unit|len0|len65535");
		return;
	}
	u = lookup_unit(sim, argv[1]);
	if (u == NULL)
		return;
	if (sim->rtu_path != NULL) {
		reply("error lie needs a TCP simulator (--port)");
		return;
	}
	for (k = 0; k < 4 && strcmp(argv[2], names[k]) != 0; k++)
		;
	if (k == 4) {
		reply("error lie must be none, unit, len0 or len65535");
		return;
	}
	pthread_mutex_lock(&sim->lock);
	u->lie = (enum lie)k;
	pthread_mutex_unlock(&sim->lock);
	reply("ok");
}

/* Asks the TCP loop to cut every client connection and waits until it has. */
static void cmd_drop(struct sim *sim, int argc)
{
	const uint8_t one = 1;
	int closed = -1;

	if (argc != 1) {
		reply("error usage: drop");
		return;
	}
	if (sim->rtu_path != NULL) {
		reply("error drop needs a TCP simulator (--port)");
		return;
	}
	pthread_mutex_lock(&sim->drop_lock);
	sim->drop_asked = true;
	sim->drop_done = false;
	if (write(sim->wake_fd[1], &one, 1) < 0 && errno != EAGAIN)
		fprintf(stderr, "hw-sim: wake: %s\n", strerror(errno));
	while (!sim->drop_done && !stop_flag) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SIM_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sim->drop_cond, &sim->drop_lock, &ts);
	}
	if (sim->drop_done)
		closed = sim->drop_closed;
	sim->drop_asked = false;
	pthread_mutex_unlock(&sim->drop_lock);
	if (closed < 0)
		reply("error the simulator is stopping");
	else
		reply("ok %d", closed);
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
	} else if (strcmp(argv[0], "starts") == 0) {
		cmd_starts(sim, argv, argc);
	} else if (strcmp(argv[0], "testlen") == 0) {
		cmd_testlen(sim, argv, argc);
	} else if (strcmp(argv[0], "battery") == 0) {
		cmd_battery(sim, argv, argc);
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
	} else if (strcmp(argv[0], "refuse") == 0) {
		cmd_refuse(sim, argv, argc);
	} else if (strcmp(argv[0], "unrefuse") == 0) {
		cmd_unrefuse(sim, argv, argc);
	} else if (strcmp(argv[0], "delay") == 0) {
		cmd_delay(sim, argv, argc);
	} else if (strcmp(argv[0], "dribble") == 0) {
		cmd_dribble(sim, argv, argc);
	} else if (strcmp(argv[0], "lie") == 0) {
		cmd_lie(sim, argv, argc);
	} else if (strcmp(argv[0], "stuck") == 0) {
		cmd_flag(sim, argv, argc, offsetof(struct unit, counter_stuck), true);
	} else if (strcmp(argv[0], "unstuck") == 0) {
		cmd_flag(sim, argv, argc, offsetof(struct unit, counter_stuck), false);
	} else if (strcmp(argv[0], "drop") == 0) {
		cmd_drop(sim, argc);
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

/* The table and span a read request touches (functions 01 to 04, the read half of 23), or
 * TAB_BAD for any other request. pdu starts at the function code. */
static enum table read_span(const uint8_t *pdu, int pdu_len, unsigned *addr, unsigned *count)
{
	enum table t;

	if (pdu_len < 5)
		return TAB_BAD;
	switch (pdu[0]) {
	case MODBUS_FC_READ_COILS:
		t = TAB_COIL;
		break;
	case MODBUS_FC_READ_DISCRETE_INPUTS:
		t = TAB_DISCRETE;
		break;
	case MODBUS_FC_READ_HOLDING_REGISTERS:
	case MODBUS_FC_WRITE_AND_READ_REGISTERS:
		t = TAB_HOLDING;
		break;
	case MODBUS_FC_READ_INPUT_REGISTERS:
		t = TAB_INPUT;
		break;
	default:
		return TAB_BAD;
	}
	*addr = (unsigned)pdu[1] << 8 | pdu[2];
	*count = (unsigned)pdu[3] << 8 | pdu[4];
	return t;
}

/* The exception code `refuse` answers the request with for this unit, 0 for none. */
static int refused_code(const struct unit *u, const uint8_t *pdu, int pdu_len)
{
	unsigned addr, count;
	enum table t = read_span(pdu, pdu_len, &addr, &count);
	int i;

	if (t == TAB_BAD || count == 0)
		return 0;
	for (i = 0; i < u->n_refused; i++) {
		const struct refusal *r = &u->refused[i];

		if (r->table == t && addr <= r->to && addr + count - 1 >= r->from)
			return r->code;
	}
	return 0;
}

/* Collects what libmodbus wrote to the capture socket. */
static int capture_drain(struct sim *sim, uint8_t *out)
{
	int n = 0;

	for (;;) {
		ssize_t r = recv(sim->capture[1], out + n, (size_t)(SIM_MAX_ADU - n), MSG_DONTWAIT);

		if (r <= 0)
			break;
		n += (int)r;
		if (n == SIM_MAX_ADU) {
			uint8_t sink[64];

			while (recv(sim->capture[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
				;
			break;
		}
	}
	return n;
}

/* What unit u sends back for req (len bytes, with the RTU CRC if any): the bytes in out,
 * their count returned, 0 for nothing. Executes the request unless it is refused or
 * answered with garbage. libmodbus writes its reply to the capture socket instead of the
 * client, so that the caller can delay or pace it. Called with sim->lock held. */
static int answer(struct sim *sim, modbus_t *ctx, struct unit *u, const uint8_t *req, int len,
		  uint8_t *out)
{
	int hl = modbus_get_header_length(ctx);
	int pdu_len = len - hl - (sim->rtu_path != NULL ? 2 : 0);
	int saved, code, n;

	if (sim->garbage_rate > 0.0 && rng_unit() < sim->garbage_rate) {
		int i;

		n = 1 + (int)(rng_next() % 64);
		for (i = 0; i < n; i++)
			out[i] = (uint8_t)rng_next();
		return n;
	}
	saved = modbus_get_socket(ctx);
	modbus_set_socket(ctx, sim->capture[0]);
	code = refused_code(u, req + hl, pdu_len);
	if (code) {
		modbus_reply_exception(ctx, req, (unsigned)code);
	} else {
		modbus_reply(ctx, req, len, u->map);
		unit_coils(u);
	}
	modbus_set_socket(ctx, saved);
	n = capture_drain(sim, out);
	/* `lie`: the MBAP header misstates the unit or the length (TCP only). */
	if (n >= 7 && u->lie == LIE_UNIT)
		out[6] = (uint8_t)(out[6] + 1);
	else if (n >= 7 && u->lie == LIE_LEN0)
		out[4] = out[5] = 0;
	else if (n >= 7 && u->lie == LIE_LEN65535)
		out[4] = out[5] = 0xFF;
	return n;
}

static int send_all(int fd, const uint8_t *buf, int len)
{
	while (len > 0) {
		ssize_t r = send(fd, buf, (size_t)len, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		buf += r;
		len -= (int)r;
	}
	return 0;
}

static void pending_add(struct sim *sim, int fd, int delay_ms, int dribble_ms, const uint8_t *buf,
			int len)
{
	struct pending *p;

	if (sim->n_pending == SIM_MAX_PENDING) {
		fprintf(stderr, "hw-sim: %d delayed answers waiting, dropping one\n",
			SIM_MAX_PENDING);
		return;
	}
	p = &sim->pending[sim->n_pending++];
	p->fd = fd;
	p->due_ms = now_ms() + delay_ms;
	p->dribble_ms = dribble_ms;
	p->sent = 0;
	p->len = len;
	memcpy(p->buf, buf, (size_t)len);
}

/* Forgets the delayed answers to fd (closing), or all of them when fd < 0. */
static void pending_forget(struct sim *sim, int fd)
{
	int i;

	for (i = 0; i < sim->n_pending; i++) {
		if (fd >= 0 && sim->pending[i].fd != fd)
			continue;
		sim->pending[i] = sim->pending[--sim->n_pending];
		i--;
	}
}

/* Sends the delayed answers that are due; returns the ms until the next one (or -1). */
static int pending_flush(struct sim *sim)
{
	int64_t now = now_ms();
	int64_t next = -1;
	int i;

	for (i = 0; i < sim->n_pending; i++) {
		struct pending *p = &sim->pending[i];

		if (p->due_ms <= now && p->dribble_ms > 0 && p->sent + 1 < p->len) {
			/* one byte now, the next one dribble_ms later */
			send_all(p->fd, p->buf + p->sent, 1);
			p->sent++;
			p->due_ms = now + p->dribble_ms;
			if (next < 0 || p->dribble_ms < next)
				next = p->dribble_ms;
		} else if (p->due_ms <= now) {
			/* a failed send shows up as a closed connection on the next read */
			send_all(p->fd, p->buf + p->sent, p->len - p->sent);
			sim->pending[i] = sim->pending[--sim->n_pending];
			i--;
		} else if (next < 0 || p->due_ms - now < next) {
			next = p->due_ms - now;
		}
	}
	return (int)next;
}

/* Serves one request on fd. Returns false when the connection is to be closed. */
static bool serve_request(struct sim *sim, modbus_t *ctx, int fd)
{
	uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
	uint8_t out[SIM_MAX_ADU];
	int hl = modbus_get_header_length(ctx);
	int rc, n = 0, delay_ms = 0, dribble_ms = 0;
	struct unit *u;

	modbus_set_socket(ctx, fd);
	rc = modbus_receive(ctx, req);
	if (rc < 0)
		return false;
	if (rc < hl + 1)
		return true;

	pthread_mutex_lock(&sim->lock);
	u = &sim->units[req[hl - 1]];
	/* unknown and silent units: like a gateway whose target does not answer, no reply */
	if (u->kind != UNIT_NONE && !u->silent) {
		n = answer(sim, ctx, u, req, rc, out);
		delay_ms = u->delay_ms;
		dribble_ms = u->dribble_ms;
	}
	pthread_mutex_unlock(&sim->lock);
	if (n == 0)
		return true;
	if (delay_ms > 0 || dribble_ms > 0) {
		pending_add(sim, fd, delay_ms, dribble_ms, out, n);
		return true;
	}
	return send_all(fd, out, n) == 0;
}

/* Cuts a connection with a reset, as a broken link or a rebooted gateway does. */
static void close_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Answers a pending `drop` by cutting every client. */
static void serve_drop(struct sim *sim, int *clients, int *nclients)
{
	uint8_t sink[16];
	int i;

	while (read(sim->wake_fd[0], sink, sizeof(sink)) > 0)
		;
	pthread_mutex_lock(&sim->drop_lock);
	if (sim->drop_asked && !sim->drop_done) {
		for (i = 0; i < *nclients; i++)
			close_reset(clients[i]);
		pending_forget(sim, -1);
		sim->drop_closed = *nclients;
		*nclients = 0;
		sim->drop_done = true;
		pthread_cond_broadcast(&sim->drop_cond);
	}
	pthread_mutex_unlock(&sim->drop_lock);
}

static int serve_tcp(struct sim *sim, modbus_t *ctx, int listen_fd)
{
	int clients[SIM_MAX_CLIENTS];
	int nclients = 0;
	int i;

	while (!stop_flag) {
		fd_set rfds;
		int wait_ms = pending_flush(sim);
		struct timeval tv;
		int maxfd = listen_fd > sim->wake_fd[0] ? listen_fd : sim->wake_fd[0];
		int n;

		if (wait_ms < 0 || wait_ms > SIM_POLL_MS)
			wait_ms = SIM_POLL_MS;
		tv.tv_sec = 0;
		tv.tv_usec = wait_ms * 1000;
		FD_ZERO(&rfds);
		FD_SET(listen_fd, &rfds);
		FD_SET(sim->wake_fd[0], &rfds);
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
		if (FD_ISSET(sim->wake_fd[0], &rfds)) {
			serve_drop(sim, clients, &nclients);
			continue; /* the client bits of rfds are stale now */
		}
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
				pending_forget(sim, clients[i]);
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

/* ---- RTU line (main thread) --------------------------------------------------------------
 * libmodbus's RTU receive keeps only the frames addressed to the context's own slave id, so
 * the simulator frames requests itself (length from the function code, then the CRC) and lets
 * libmodbus build the answers, which go out through the same single RTU context. */

static uint16_t crc16(const uint8_t *buf, int len)
{
	uint16_t crc = 0xffff;
	int i, b;

	for (i = 0; i < len; i++) {
		crc ^= buf[i];
		for (b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xa001) : (uint16_t)(crc >> 1);
	}
	return crc;
}

/* The length of the request frame that starts buf: 0 while too few bytes are in to know,
 * -1 for a function code the simulator cannot frame. */
static int rtu_request_length(const uint8_t *buf, int have)
{
	if (have < 2)
		return 0;
	switch (buf[1]) {
	case MODBUS_FC_READ_COILS:
	case MODBUS_FC_READ_DISCRETE_INPUTS:
	case MODBUS_FC_READ_HOLDING_REGISTERS:
	case MODBUS_FC_READ_INPUT_REGISTERS:
	case MODBUS_FC_WRITE_SINGLE_COIL:
	case MODBUS_FC_WRITE_SINGLE_REGISTER:
		return 8;
	case MODBUS_FC_READ_EXCEPTION_STATUS:
	case MODBUS_FC_REPORT_SLAVE_ID:
		return 4;
	case MODBUS_FC_WRITE_MULTIPLE_COILS:
	case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
		return have < 7 ? 0 : 9 + buf[6];
	case MODBUS_FC_MASK_WRITE_REGISTER:
		return 10;
	case MODBUS_FC_WRITE_AND_READ_REGISTERS:
		return have < 11 ? 0 : 13 + buf[10];
	default:
		return -1;
	}
}

static bool is_write(uint8_t function)
{
	return function == MODBUS_FC_WRITE_SINGLE_COIL ||
	       function == MODBUS_FC_WRITE_SINGLE_REGISTER ||
	       function == MODBUS_FC_WRITE_MULTIPLE_COILS ||
	       function == MODBUS_FC_WRITE_MULTIPLE_REGISTERS ||
	       function == MODBUS_FC_MASK_WRITE_REGISTER;
}

/* Wire time of `chars` characters in microseconds, with the line's frame format. */
static int64_t rtu_chars_us(const struct sim *sim, double chars)
{
	int bits = 1 + sim->data_bits + (sim->parity != 'N') + sim->stop_bits;

	return (int64_t)(chars * bits * 1000000.0 / sim->baud);
}

/* Waits us microseconds; true when the master starts a new frame first (or on stop). */
static bool rtu_line_busy(int fd, int64_t us)
{
	int64_t end = now_ms() * 1000 + us;

	for (;;) {
		int64_t left = end - now_ms() * 1000;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n;

		if (left <= 0)
			return false;
		n = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (stop_flag)
			return true;
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && (pfd.revents & POLLIN))
			return true;
		if (n != 0) {
			/* no master on the line (pty closed): just let the time pass */
			poll(NULL, 0, (int)((left + 999) / 1000));
			return false;
		}
	}
}

/* Executes a broadcast write on every unit that listens; a broadcast gets no answer. */
static void rtu_broadcast(struct sim *sim, modbus_t *ctx, const uint8_t *req, int len)
{
	uint8_t sink[SIM_MAX_ADU];
	int saved = modbus_get_socket(ctx);
	int i;

	if (!is_write(req[1]))
		return;
	modbus_set_socket(ctx, sim->capture[0]);
	for (i = 1; i < SIM_NB_UNITS; i++) {
		struct unit *u = &sim->units[i];

		if (u->kind == UNIT_NONE || u->silent)
			continue;
		modbus_reply(ctx, req, len, u->map);
		unit_coils(u);
	}
	modbus_set_socket(ctx, saved);
	capture_drain(sim, sink);
}

/* Answers one request frame (CRC checked). `more`: bytes of a next frame are already in. */
static void rtu_request(struct sim *sim, modbus_t *ctx, int fd, const uint8_t *req, int len,
			bool more)
{
	uint8_t out[SIM_MAX_ADU];
	struct unit *u = &sim->units[req[0]];
	int n = 0, delay_ms = 0;
	int64_t wait_us;

	pthread_mutex_lock(&sim->lock);
	if (req[0] == MODBUS_BROADCAST_ADDRESS) {
		rtu_broadcast(sim, ctx, req, len);
	} else if (u->kind != UNIT_NONE && !u->silent) {
		n = answer(sim, ctx, u, req, len, out);
		delay_ms = u->delay_ms;
	}
	pthread_mutex_unlock(&sim->lock);
	if (n == 0)
		return;

	/* With --pace the answer is complete at the master when it would be on a real line:
	 * the request's characters, the 3.5-character silence that ends it, the answer's. */
	wait_us = (int64_t)delay_ms * 1000;
	if (sim->pace)
		wait_us += rtu_chars_us(sim, len + n) +
			   (sim->baud > 19200 ? 1750 : rtu_chars_us(sim, 3.5));
	if (more || (wait_us > 0 && rtu_line_busy(fd, wait_us))) {
		/* the master gave up and spoke again: on a real line the late answer would
		 * collide with that frame, here it is lost */
		if (!stop_flag)
			fprintf(stderr,
				"hw-sim: answer of unit %d dropped, the master spoke first\n",
				req[0]);
		return;
	}
	while (n > 0) {
		ssize_t r = write(fd, out, (size_t)n);

		if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			poll(&pfd, 1, SIM_POLL_MS);
			if (stop_flag)
				return;
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "hw-sim: write %s: %s\n", sim->rtu_path, strerror(errno));
			return;
		}
		memmove(out, out + r, (size_t)(n - r));
		n -= (int)r;
	}
}

static int serve_rtu(struct sim *sim, modbus_t *ctx)
{
	int fd = modbus_get_socket(ctx);
	uint8_t buf[MODBUS_RTU_MAX_ADU_LENGTH];
	int have = 0;
	bool resync = false; /* discarding bytes until the line falls silent */

	while (!stop_flag) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, have > 0 || resync ? SIM_RTU_BYTE_MS : SIM_POLL_MS);
		ssize_t r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "hw-sim: poll %s: %s\n", sim->rtu_path, strerror(errno));
			return 1;
		}
		if (n == 0) {
			if (have > 0 && !resync)
				fprintf(stderr, "hw-sim: incomplete frame of %d bytes dropped\n",
					have);
			have = 0;
			resync = false;
			continue;
		}
		if (!(pfd.revents & POLLIN)) {
			/* hang-up: nobody holds the other end of the pty yet, or any more */
			poll(NULL, 0, SIM_POLL_MS);
			continue;
		}
		r = read(fd, buf + have, sizeof(buf) - (size_t)have);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			poll(NULL, 0, SIM_POLL_MS);
			continue;
		}
		if (resync)
			continue;
		have += (int)r;
		while (have > 0) {
			int want = rtu_request_length(buf, have);

			if (want < 0 || want > (int)sizeof(buf)) {
				fprintf(stderr, "hw-sim: unframeable request (function 0x%02x)\n",
					buf[1]);
				resync = true;
				have = 0;
				break;
			}
			if (want == 0 || have < want)
				break;
			if (crc16(buf, want - 2) != (buf[want - 2] | buf[want - 1] << 8)) {
				fprintf(stderr, "hw-sim: bad CRC, waiting for silence\n");
				resync = true;
				have = 0;
				break;
			}
			rtu_request(sim, ctx, fd, buf, want, have > want);
			memmove(buf, buf + want, (size_t)(have - want));
			have -= want;
		}
	}
	return 0;
}

/* ---- startup ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hw-sim (--port P [--bind ADDR] | --rtu PATH --baud N [--parity N|E|O]\n"
		"              [--data-bits 7|8] [--stop-bits 1|2] [--pace])\n"
		"              --facp UNIT[,UNIT...] --elc UNIT[,UNIT...]\n"
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

static bool valid_baud(long baud)
{
	static const long rates[] = {1200,  2400,  4800,   9600,   19200,
				     38400, 57600, 115200, 230400, 460800};
	size_t i;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (rates[i] == baud)
			return true;
	return false;
}

/* The command line must name exactly one transport; RTU settings only go with --rtu. */
static int check_transport(struct sim *sim, long port, bool rtu_opts)
{
	int i;

	if ((port >= 0) == (sim->rtu_path != NULL)) {
		fprintf(stderr, "hw-sim: give either --port (TCP) or --rtu (serial line)\n");
		return -EINVAL;
	}
	if (sim->rtu_path == NULL) {
		if (rtu_opts) {
			fprintf(stderr, "hw-sim: --baud, --parity, --data-bits, --stop-bits and "
					"--pace go with --rtu\n");
			return -EINVAL;
		}
		return 0;
	}
	if (sim->baud == 0) {
		fprintf(stderr, "hw-sim: --rtu needs --baud\n");
		return -EINVAL;
	}
	for (i = SIM_RTU_MAX_UNIT + 1; i < SIM_NB_UNITS; i++) {
		if (sim->units[i].kind != UNIT_NONE) {
			fprintf(stderr, "hw-sim: unit %d: RTU unit ids are 1..%d\n", i,
				SIM_RTU_MAX_UNIT);
			return -EINVAL;
		}
	}
	if (sim->units[0].kind != UNIT_NONE) {
		fprintf(stderr, "hw-sim: unit 0 is the broadcast address on an RTU line\n");
		return -EINVAL;
	}
	return 0;
}

static int parse_args(struct sim *sim, int argc, char **argv, long *port, const char **bind_addr)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"bind", required_argument, NULL, 'b'},
	    {"rtu", required_argument, NULL, 'r'},
	    {"baud", required_argument, NULL, 'B'},
	    {"parity", required_argument, NULL, 'P'},
	    {"data-bits", required_argument, NULL, 'D'},
	    {"stop-bits", required_argument, NULL, 'S'},
	    {"pace", no_argument, NULL, 'a'},
	    {"facp", required_argument, NULL, 'f'},
	    {"elc", required_argument, NULL, 'e'},
	    {"zones", required_argument, NULL, 'z'},
	    {"luminaires", required_argument, NULL, 'l'},
	    {"garbage-rate", required_argument, NULL, 'g'},
	    {"tick-ms", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool rtu_opts = false;
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
		case 'r':
			if (*optarg == '\0')
				goto bad;
			sim->rtu_path = optarg;
			break;
		case 'B':
			if (!parse_long(optarg, 1, 1000000, &v) || !valid_baud(v))
				goto bad;
			sim->baud = (int)v;
			rtu_opts = true;
			break;
		case 'P':
			if (strcmp(optarg, "N") != 0 && strcmp(optarg, "E") != 0 &&
			    strcmp(optarg, "O") != 0)
				goto bad;
			sim->parity = optarg[0];
			rtu_opts = true;
			break;
		case 'D':
			if (!parse_long(optarg, 7, 8, &v))
				goto bad;
			sim->data_bits = (int)v;
			rtu_opts = true;
			break;
		case 'S':
			if (!parse_long(optarg, 1, 2, &v))
				goto bad;
			sim->stop_bits = (int)v;
			rtu_opts = true;
			break;
		case 'a':
			sim->pace = true;
			rtu_opts = true;
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
	if (optind != argc || check_transport(sim, *port, rtu_opts) < 0) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "hw-sim: bad option value '%s'\n", optarg);
	return -EINVAL;
}

/* Opens the TCP listening socket and prints READY; returns the socket or -1. */
static int open_tcp(modbus_t **ctx, const char *bind_addr, long port)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd;

	*ctx = modbus_new_tcp(bind_addr, (int)port);
	if (*ctx == NULL) {
		fprintf(stderr, "hw-sim: modbus_new_tcp: %s\n", modbus_strerror(errno));
		return -1;
	}
	/* a request that is announced but never completes must not stall the other clients */
	modbus_set_indication_timeout(*ctx, 1, 0);
	fd = modbus_tcp_listen(*ctx, 16);
	if (fd < 0) {
		fprintf(stderr, "hw-sim: listen on %s:%ld: %s\n", bind_addr, port,
			modbus_strerror(errno));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		fprintf(stderr, "hw-sim: getsockname: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
	printf("READY port=%ld\n", port);
	fflush(stdout);
	return fd;
}

/* Opens and configures the serial line and prints READY; returns 0 or -1. */
static int open_rtu(modbus_t **ctx, const struct sim *sim)
{
	*ctx =
	    modbus_new_rtu(sim->rtu_path, sim->baud, sim->parity, sim->data_bits, sim->stop_bits);
	if (*ctx == NULL) {
		fprintf(stderr, "hw-sim: modbus_new_rtu: %s\n", modbus_strerror(errno));
		return -1;
	}
	if (modbus_connect(*ctx) < 0) {
		fprintf(stderr, "hw-sim: open %s: %s\n", sim->rtu_path, modbus_strerror(errno));
		return -1;
	}
	/* only the answers go through libmodbus (see serve_rtu); still, nothing may block
	 * forever on the line */
	modbus_set_indication_timeout(*ctx, 0, SIM_POLL_MS * 1000);
	printf("READY rtu=%s\n", sim->rtu_path);
	fflush(stdout);
	return 0;
}

static int make_pipes(struct sim *sim)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sim->capture) < 0 ||
	    pipe2(sim->wake_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
		fprintf(stderr, "hw-sim: socketpair/pipe: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct sim sim;
	const char *bind_addr = "127.0.0.1";
	struct sigaction sa;
	pthread_t control;
	modbus_t *ctx = NULL;
	long port;
	int listen_fd = -1;
	int rc = 1;
	int i, nunits = 0;

	sim.tick_ms = 1000;
	sim.zones = 8;
	sim.luminaires = 16;
	sim.parity = 'N';
	sim.data_bits = 8;
	sim.stop_bits = 1;
	sim.capture[0] = sim.capture[1] = -1;
	sim.wake_fd[0] = sim.wake_fd[1] = -1;
	if (parse_args(&sim, argc, argv, &port, &bind_addr) < 0)
		return 2;
	pthread_mutex_init(&sim.lock, NULL);
	pthread_mutex_init(&sim.drop_lock, NULL);
	pthread_cond_init(&sim.drop_cond, NULL);

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
	sim.pending = calloc(SIM_MAX_PENDING, sizeof(*sim.pending));
	if (sim.pending == NULL || make_pipes(&sim) < 0)
		goto out_maps;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rng_state = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;

	if (sim.rtu_path != NULL ? open_rtu(&ctx, &sim) < 0
				 : (listen_fd = open_tcp(&ctx, bind_addr, port)) < 0)
		goto out_ctx;

	if (pthread_create(&control, NULL, control_main, &sim) != 0) {
		fprintf(stderr, "hw-sim: cannot start the control thread\n");
		goto out_ctx;
	}
	rc = sim.rtu_path != NULL ? serve_rtu(&sim, ctx) : serve_tcp(&sim, ctx, listen_fd);
	stop_flag = 1;
	pthread_join(control, NULL);

out_ctx:
	if (listen_fd >= 0)
		close(listen_fd);
	if (ctx != NULL) {
		if (sim.rtu_path != NULL)
			modbus_close(ctx);
		else
			modbus_set_socket(ctx, -1);
		modbus_free(ctx);
	}
out_maps:
	for (i = 0; i < 2; i++) {
		if (sim.capture[i] >= 0)
			close(sim.capture[i]);
		if (sim.wake_fd[i] >= 0)
			close(sim.wake_fd[i]);
	}
	free(sim.pending);
	for (i = 0; i < SIM_NB_UNITS; i++) {
		if (sim.units[i].map != NULL)
			modbus_mapping_free(sim.units[i].map);
	}
	pthread_cond_destroy(&sim.drop_cond);
	pthread_mutex_destroy(&sim.drop_lock);
	pthread_mutex_destroy(&sim.lock);
	return rc;
}
