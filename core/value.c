/* Point values and qualities: names, comparison and conversion of struct hw_value, and
 * its packing into struct hw_pval. Pure functions with no state; any thread may call them. */
#include "core/value.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/profile.h" /* the profile types: base types (core/), not the Modbus source */

const char *hw_quality_name(enum hw_quality q)
{
	switch (q) {
	case HW_Q_NONE:
		return "none";
	case HW_Q_GOOD:
		return "good";
	case HW_Q_STALE:
		return "stale";
	case HW_Q_COMM_LOST:
		return "comm_lost";
	case HW_Q_CONFIG_ERROR:
		return "config_error";
	}
	return "unknown";
}

static bool label_equal(const char *a, const char *b)
{
	if (a == b)
		return true;
	if (!a || !b)
		return false;
	return strcmp(a, b) == 0;
}

bool hw_value_equal(const struct hw_value *a, const struct hw_value *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->type != b->type)
		return false;
	if (!label_equal(a->label, b->label))
		return false;
	switch (a->type) {
	case HW_V_NONE:
		return true;
	case HW_V_BOOL:
		return a->b == b->b;
	case HW_V_INT:
		return a->i == b->i;
	case HW_V_FLOAT:
		/* Exact comparison; a value that stays NaN is not a change. */
		return a->f == b->f || (isnan(a->f) && isnan(b->f));
	}
	return false;
}

double hw_value_as_double(const struct hw_value *v)
{
	if (!v)
		return 0.0;
	switch (v->type) {
	case HW_V_BOOL:
		return v->b ? 1.0 : 0.0;
	case HW_V_INT:
		return (double)v->i;
	case HW_V_FLOAT:
		return v->f;
	case HW_V_NONE:
		break;
	}
	return 0.0;
}

void hw_pval_pack(const struct prof_point *p, const struct hw_value *v, struct hw_pval *pv)
{
	pv->type = (uint8_t)v->type;
	pv->i = 0;
	switch (v->type) {
	case HW_V_BOOL:
		pv->b = v->b;
		break;
	case HW_V_INT:
		pv->i = v->i;
		break;
	case HW_V_FLOAT:
		pv->f = v->f;
		break;
	case HW_V_NONE:
		break;
	}
	pv->label = 0;
	for (size_t i = 0; v->label && i < p->n_enums && i < UINT16_MAX; i++)
		if (p->enums[i].label == v->label)
			pv->label = (uint16_t)(i + 1);
}

void hw_pval_unpack(const struct prof_point *p, const struct hw_pval *pv, struct hw_value *v)
{
	memset(v, 0, sizeof(*v));
	v->type = (enum hw_vtype)pv->type;
	switch (v->type) {
	case HW_V_BOOL:
		v->b = pv->b;
		break;
	case HW_V_INT:
		v->i = pv->i;
		break;
	case HW_V_FLOAT:
		v->f = pv->f;
		break;
	case HW_V_NONE:
		break;
	}
	v->label = pv->label && pv->label <= p->n_enums ? p->enums[pv->label - 1].label : NULL;
}
