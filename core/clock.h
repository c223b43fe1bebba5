/* The inspection layer's clock (docs/inspections.md, "Testing with a simulated month"): the
 * real time in production; in a daemon started with HALLWATCH_TEST_CLOCK, a test clock that
 * runs at the real pace from an offset a test moves forward (cmd/clock), so that a month of
 * patrols, checks and tests runs in minutes. The scheduler's ticks, the times of tasks,
 * records and tickets and the monthly report read this clock; the video layer (segments,
 * clips, snapshots, recording continuity) and the controllers' own clocks stay on the real
 * time: hw_clock_from_real / hw_clock_to_real map between the two.
 *
 * One offset for the process, read and moved atomically: any thread. */
#ifndef HW_CLOCK_H
#define HW_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* The real time, Unix ms. */
int64_t hw_clock_real_ms(void);
/* The inspection layer's time, Unix ms: the real time plus the test offset (0 in production). */
int64_t hw_clock_ms(void);
/* The test offset, ms (0 unless a test moved the clock). */
int64_t hw_clock_offset_ms(void);
/* A real time as the clock's time, and back. */
int64_t hw_clock_from_real(int64_t real_ms);
int64_t hw_clock_to_real(int64_t ms);
/* Whether the clock is a test clock (hw_clock_enable_test was called). */
bool hw_clock_is_test(void);

/* Reads the switch's value (the environment's HALLWATCH_TEST_CLOCK; NULL when not set):
 * NULL, "" or "0": off, returns 0; "1": a test clock from the real time, returns 1 with
 * *start_ms 0; a time as core/timeparse.h takes it ("2027-01-01T00:00:00+08:00", seconds
 * since the epoch such as "1798732800.5", a local time in tz): a test clock from that time,
 * returns 1 with *start_ms set. -EINVAL for anything else. Pure. */
int hw_clock_switch(const char *value, const char *tz, int64_t *start_ms);
/* Makes the clock a test clock starting at start_ms (0: the real time). Once, at start,
 * before the services that read it. */
void hw_clock_enable_test(int64_t start_ms);
/* Moves a test clock to ms, or on by delta_ms. -EPERM when the clock is the real one,
 * -EINVAL when it would go back (ms before now, delta_ms negative). */
int hw_clock_set(int64_t ms);
int hw_clock_advance(int64_t delta_ms);
/* Back to the real time and no test clock (unit tests). */
void hw_clock_reset(void);

#endif
