/* Owns the process's one clock offset and test switch (core/clock.h). Any thread: the
 * offset and the switch are read and written with atomics; only cmd/clock (main loop)
 * and the start move them. */
#include "core/clock.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "core/timeparse.h"

static int64_t offset_ms;
static int test_on;

int64_t hw_clock_real_ms(void)
{
	return g_get_real_time() / 1000;
}

int64_t hw_clock_offset_ms(void)
{
	return __atomic_load_n(&offset_ms, __ATOMIC_ACQUIRE);
}

int64_t hw_clock_ms(void)
{
	return hw_clock_real_ms() + hw_clock_offset_ms();
}

int64_t hw_clock_from_real(int64_t real_ms)
{
	return real_ms + hw_clock_offset_ms();
}

int64_t hw_clock_to_real(int64_t ms)
{
	return ms - hw_clock_offset_ms();
}

bool hw_clock_is_test(void)
{
	return __atomic_load_n(&test_on, __ATOMIC_ACQUIRE) != 0;
}

int hw_clock_switch(const char *value, const char *tz, int64_t *start_ms)
{
	int64_t ms;

	*start_ms = 0;
	if (!value || !*value || strcmp(value, "0") == 0)
		return 0;
	if (strcmp(value, "1") == 0)
		return 1;
	if (timeparse(value, tz, &ms) < 0 || ms <= 0)
		return -EINVAL;
	*start_ms = ms;
	return 1;
}

void hw_clock_enable_test(int64_t start_ms)
{
	__atomic_store_n(&offset_ms, start_ms > 0 ? start_ms - hw_clock_real_ms() : 0,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&test_on, 1, __ATOMIC_RELEASE);
}

int hw_clock_advance(int64_t delta_ms)
{
	if (!hw_clock_is_test())
		return -EPERM;
	if (delta_ms < 0)
		return -EINVAL;
	__atomic_add_fetch(&offset_ms, delta_ms, __ATOMIC_ACQ_REL);
	return 0;
}

int hw_clock_set(int64_t ms)
{
	int64_t now = hw_clock_ms();

	if (!hw_clock_is_test())
		return -EPERM;
	if (ms < now)
		return -EINVAL;
	return hw_clock_advance(ms - now);
}

void hw_clock_reset(void)
{
	__atomic_store_n(&offset_ms, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&test_on, 0, __ATOMIC_RELEASE);
}
