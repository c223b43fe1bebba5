/* Owns the reversible escaping of topic levels (mqtt.topic_escape): '.' and '%' written as
 * %2E and %25, and back. Pure functions, called from the main loop of the gateway and of the
 * county, and from unit tests. */
#include "outputs/mqtt_topic.h"

#include <glib.h>
#include <string.h>

char *mqtt_topic_escape(const char *s)
{
	GString *o;

	if (!strpbrk(s, ".%"))
		return g_strdup(s);
	o = g_string_sized_new(strlen(s) + 16);
	for (; *s; s++) {
		if (*s == '.')
			g_string_append(o, "%2E");
		else if (*s == '%')
			g_string_append(o, "%25");
		else
			g_string_append_c(o, *s);
	}
	return g_string_free(o, FALSE);
}

/* The character %XX stands for at s (s[0] == '%'), or 0 when it is none of ours. */
static char decoded_at(const char *s)
{
	if (s[1] == '2' && (s[2] == 'E' || s[2] == 'e'))
		return '.';
	if (s[1] == '2' && s[2] == '5')
		return '%';
	return 0;
}

bool mqtt_topic_escaped(const char *s)
{
	for (s = strchr(s, '%'); s; s = strchr(s + 1, '%'))
		if (decoded_at(s))
			return true;
	return false;
}

char *mqtt_topic_unescape(const char *s)
{
	GString *o;

	if (!mqtt_topic_escaped(s))
		return g_strdup(s);
	o = g_string_sized_new(strlen(s));
	while (*s) {
		char c = *s == '%' ? decoded_at(s) : 0;

		if (c) {
			g_string_append_c(o, c);
			s += 3;
		} else {
			g_string_append_c(o, *s++);
		}
	}
	return g_string_free(o, FALSE);
}
