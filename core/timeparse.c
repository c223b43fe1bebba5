/* The time parser of core/timeparse.h: a small hand-written reader of the accepted forms,
 * GLib's GTimeZone for local times. No state; any thread. */
#include "core/timeparse.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* n decimal digits at *p into *v; advances *p. */
static bool digits(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return true;
}

static bool lit(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static int epoch_seconds(const char *s, int64_t *out_ms)
{
	char *end;
	long long v;
	double d;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end == '\0') {
		if (errno || v < 0 || v > TIMEPARSE_MAX_S)
			return -EINVAL;
		*out_ms = v * 1000;
		return 0;
	}
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	d = strtod(s, &end);
	if (*end != '\0' || !(d >= 0 && d <= TIMEPARSE_MAX_S)) /* NaN too */
		return -EINVAL;
	*out_ms = (int64_t)(d * 1000.0 + 0.5);
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : n[m - 1];
}

static GTimeZone *zone(const char *tz)
{
	return tz && *tz ? g_time_zone_new_identifier(tz) : g_time_zone_new_local();
}

bool timeparse_tz_valid(const char *tz)
{
	GTimeZone *z = zone(tz);

	if (!z)
		return false;
	g_time_zone_unref(z);
	return true;
}

int timeparse(const char *s, const char *tz, int64_t *out_ms)
{
	int y, mo, d, h, mi, sec = 0, ms = 0, oh = 0, om = 0, sign = 0;
	const char *p = s;
	int64_t t;

	if (!s || !*s)
		return -EINVAL;
	if (epoch_seconds(s, out_ms) == 0)
		return 0;
	if (!digits(&p, 4, &y) || !lit(&p, '-') || !digits(&p, 2, &mo) || !lit(&p, '-') ||
	    !digits(&p, 2, &d) || !(lit(&p, 'T') || lit(&p, ' ')) || !digits(&p, 2, &h) ||
	    !lit(&p, ':') || !digits(&p, 2, &mi))
		return -EINVAL;
	if (lit(&p, ':')) {
		if (!digits(&p, 2, &sec))
			return -EINVAL;
		if (lit(&p, '.')) { /* a fraction: ms kept, further digits ignored */
			int scale = 100, n = 0;

			for (; *p >= '0' && *p <= '9'; p++, n++) {
				ms += (*p - '0') * scale;
				scale /= 10;
			}
			if (n == 0)
				return -EINVAL;
		}
	}
	if (lit(&p, 'Z')) {
		sign = 1;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &oh))
			return -EINVAL;
		if ((lit(&p, ':') && !digits(&p, 2, &om)) || (*p && !digits(&p, 2, &om)))
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -EINVAL;
	if (sign) {
		t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
		t -= sign * (oh * 3600 + om * 60);
	} else {
		GTimeZone *z = zone(tz);
		GDateTime *dt;

		if (!z)
			return -EINVAL;
		dt = g_date_time_new(z, y, mo, d, h, mi, sec);
		g_time_zone_unref(z);
		if (!dt)
			return -EINVAL;
		t = g_date_time_to_unix(dt);
		g_date_time_unref(dt);
	}
	if (t < 0 || t > TIMEPARSE_MAX_S)
		return -EINVAL;
	*out_ms = t * 1000 + ms;
	return 0;
}

const char *timeparse_format(int64_t ms, const char *tz, char *buf, size_t sz)
{
	GTimeZone *z = zone(tz);
	GDateTime *u = g_date_time_new_from_unix_utc(ms / 1000), *dt = NULL;
	char *s = NULL;

	snprintf(buf, sz, "?");
	if (z && u)
		dt = g_date_time_to_timezone(u, z);
	if (dt)
		s = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S%:z");
	if (s)
		snprintf(buf, sz, "%s", s);
	g_free(s);
	if (dt)
		g_date_time_unref(dt);
	if (u)
		g_date_time_unref(u);
	if (z)
		g_time_zone_unref(z);
	return buf;
}
