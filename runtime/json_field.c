#include "json_field.h"

#include <cjson/cJSON.h>
#include <math.h>

const cJSON *detc_json_field(const cJSON *obj, const char *name)
{
    return obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

bool detc_json_number(const cJSON *v, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d < lo || d > hi)
        return false;
    *out = d;
    return true;
}

bool detc_json_integer(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    double d;
    if (!detc_json_number(v, (double)lo, (double)hi, &d) || d != floor(d))
        return false;
    *out = (int64_t)d;
    return true;
}
