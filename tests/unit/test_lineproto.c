/* Unit tests of the line protocol encoder: the escaping examples of the InfluxDB line
 * protocol reference, separators, number formats and what is rejected. Single thread. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outputs/lineproto.h"

static GString *buf;

static int setup(void **state)
{
	(void)state;
	buf = g_string_new(NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	g_string_free(buf, TRUE);
	return 0;
}

/* --- the reference's own examples --- */

static void test_spec_measurement_space(void **state)
{
	(void)state;
	struct lp_line l;

	assert_int_equal(lp_begin(&l, buf, "my Measurement"), 0);
	assert_int_equal(lp_field_string(&l, "fieldKey", "string value"), 0);
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str, "my\\ Measurement fieldKey=\"string value\"\n");
}

static void test_spec_tag_spaces(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "myMeasurement");
	assert_int_equal(lp_tag(&l, "tag Key1", "tag Value1"), 0);
	assert_int_equal(lp_tag(&l, "tag Key2", "tag Value2"), 0);
	assert_int_equal(lp_field_float(&l, "fieldKey", 100), 0);
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str,
			    "myMeasurement,tag\\ Key1=tag\\ Value1,tag\\ Key2=tag\\ Value2 "
			    "fieldKey=100\n");
}

static void test_spec_quotes_in_string(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "myMeasurement");
	lp_field_string(&l, "fieldKey", "\"string\" within a string");
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str,
			    "myMeasurement fieldKey=\"\\\"string\\\" within a string\"\n");
}

static void test_spec_emoji(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "myMeasurement");
	lp_tag(&l, "tagKey", "🍭");
	lp_field_string(&l, "fieldKey", "Launch 🚀");
	assert_int_equal(lp_end(&l, 1556813561098000000), 0);
	assert_string_equal(buf->str,
			    "myMeasurement,tagKey=🍭 fieldKey=\"Launch 🚀\" 1556813561098000000\n");
}

static void test_spec_measurement_comma(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "my,Measurement");
	lp_field_string(&l, "fieldKey", "string");
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str, "my\\,Measurement fieldKey=\"string\"\n");
}

static void test_spec_field_key_equals(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "myMeasurement");
	lp_field_string(&l, "field=Key", "string");
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str, "myMeasurement field\\=Key=\"string\"\n");
}

static void test_spec_backslash_in_string(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "myMeasurement");
	lp_field_string(&l, "fieldKey", "C:\\Windows");
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str, "myMeasurement fieldKey=\"C:\\\\Windows\"\n");
}

static void test_spec_literal_backslash_in_names(void **state)
{
	(void)state;
	struct lp_line l;

	/* Only the listed characters are escaped; a backslash elsewhere is literal. */
	lp_begin(&l, buf, "my\\Measurement");
	lp_tag(&l, "path", "C:\\tmp");
	lp_field_string(&l, "fieldKey", "string value");
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str, "my\\Measurement,path=C:\\tmp fieldKey=\"string value\"\n");
}

static void test_tag_equals_and_comma(void **state)
{
	(void)state;
	struct lp_line l;

	/* '=' is not special in a measurement, but is in tag keys and values. */
	lp_begin(&l, buf, "a=b");
	lp_tag(&l, "k=1", "v,=2");
	lp_field_int(&l, "f", 1);
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str, "a=b,k\\=1=v\\,\\=2 f=1i\n");
}

/* --- types and separators --- */

static void test_types(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "m");
	lp_tag(&l, "site", "hall-1");
	lp_tag(&l, "device", "fire");
	assert_int_equal(lp_field_int(&l, "value", 1), 0);
	assert_int_equal(lp_field_int(&l, "min", INT64_MIN), 0);
	assert_int_equal(lp_field_uint(&l, "u", UINT64_MAX), 0);
	assert_int_equal(lp_field_bool(&l, "t", true), 0);
	assert_int_equal(lp_field_bool(&l, "f", false), 0);
	assert_int_equal(lp_field_float(&l, "x", -3.5), 0);
	assert_int_equal(lp_end(&l, 42), 0);
	assert_string_equal(buf->str,
			    "m,site=hall-1,device=fire value=1i,min=-9223372036854775808i,"
			    "u=18446744073709551615u,t=true,f=false,x=-3.5 42\n");
}

static void test_two_lines(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "a");
	lp_field_int(&l, "v", 1);
	lp_end(&l, 1);
	lp_begin(&l, buf, "b");
	lp_field_int(&l, "v", 2);
	lp_end(&l, 2);
	assert_string_equal(buf->str, "a v=1i 1\nb v=2i 2\n");
}

static void check_float(double v, const char *want)
{
	GString *s = g_string_new(NULL);

	assert_int_equal(lp_format_float(s, v), 0);
	if (want)
		assert_string_equal(s->str, want);
	assert_true(strtod(s->str, NULL) == v);
	g_string_free(s, TRUE);
}

static void test_float_round_trip(void **state)
{
	(void)state;
	check_float(0.1, "0.1");
	check_float(1e300, "1e+300");
	check_float(-3.5, "-3.5");
	check_float(100, "100");
	check_float(0.1 + 0.2, "0.30000000000000004");
	check_float(1.0 / 3.0, "0.3333333333333333");
	check_float(5e-324, "4.94065645841247e-324");
	check_float(1.7976931348623157e308, "1.7976931348623157e+308");
	/* And a spread of awkward values round-trip. */
	srand(1);
	for (int i = 0; i < 10000; i++) {
		uint64_t bits =
		    ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
		double v;
		memcpy(&v, &bits, sizeof(v));
		if (isfinite(v))
			check_float(v, NULL);
	}
}

/* --- what is rejected --- */

static void test_nan_inf_rejected(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "m");
	assert_int_equal(lp_field_float(&l, "nan", NAN), -EINVAL);
	assert_int_equal(lp_field_float(&l, "inf", INFINITY), -EINVAL);
	assert_int_equal(lp_field_float(&l, "ninf", -INFINITY), -EINVAL);
	assert_int_equal(lp_field_float(&l, "ok", 1.5), 0);
	/* Written without the bad fields, and the error is reported again. */
	assert_int_equal(lp_end(&l, 7), -EINVAL);
	assert_string_equal(buf->str, "m ok=1.5 7\n");
	assert_int_equal(lp_format_float(buf, NAN), -EINVAL);
}

static void test_only_nan_leaves_nothing(void **state)
{
	(void)state;
	struct lp_line l;

	g_string_assign(buf, "before 1=1i\n");
	lp_begin(&l, buf, "m");
	lp_tag(&l, "site", "x");
	assert_int_equal(lp_field_float(&l, "v", NAN), -EINVAL);
	assert_int_equal(lp_end(&l, 7), -EINVAL);
	assert_string_equal(buf->str, "before 1=1i\n");
}

static void test_empty_tag_value_omitted(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "m");
	assert_int_equal(lp_tag(&l, "a", ""), 0);
	assert_int_equal(lp_tag(&l, "b", NULL), 0);
	assert_int_equal(lp_tag(&l, "c", "x"), 0);
	lp_field_int(&l, "v", 1);
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
	assert_string_equal(buf->str, "m,c=x v=1i\n");
}

static void test_invalid_names(void **state)
{
	(void)state;
	struct lp_line l;

	assert_int_equal(lp_begin(&l, buf, ""), -EINVAL);
	lp_field_int(&l, "v", 1);
	assert_int_equal(lp_end(&l, 1), -EINVAL);
	assert_int_equal(lp_begin(&l, buf, "bad\nname"), -EINVAL);
	assert_int_equal(lp_end(&l, 1), -EINVAL);
	assert_int_equal(lp_begin(&l, buf, "trailing\\"), -EINVAL);
	assert_int_equal(lp_end(&l, 1), -EINVAL);
	assert_int_equal(buf->len, 0);

	lp_begin(&l, buf, "m");
	assert_int_equal(lp_tag(&l, "", "x"), -EINVAL);
	assert_int_equal(lp_tag(&l, "k", "two\nlines"), -EINVAL);
	assert_int_equal(lp_tag(&l, "k", "ends\\"), -EINVAL);
	assert_int_equal(lp_field_int(&l, "", 1), -EINVAL);
	assert_int_equal(lp_field_string(&l, "s", NULL), -EINVAL);
	assert_int_equal(lp_field_string(&l, "s", "multi\nline ok"), 0);
	assert_int_equal(lp_tag(&l, "late", "tag"), -EINVAL); /* after a field */
	assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), -EINVAL);
	assert_string_equal(buf->str, "m s=\"multi\nline ok\"\n");
}

static void test_no_field(void **state)
{
	(void)state;
	struct lp_line l;

	lp_begin(&l, buf, "m");
	lp_tag(&l, "a", "b");
	assert_int_equal(lp_end(&l, 1), -EINVAL);
	assert_int_equal(buf->len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_spec_measurement_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spec_tag_spaces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spec_quotes_in_string, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spec_emoji, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spec_measurement_comma, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spec_field_key_equals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spec_backslash_in_string, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spec_literal_backslash_in_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tag_equals_and_comma, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_float_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nan_inf_rejected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_only_nan_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_tag_value_omitted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_field, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
