/* The one reader of JSON fields for the model header, op attributes and pipelines: a field by name, and
 * numbers checked once, the same way everywhere (a number, finite, within a range, integral where asked).
 * Callers word their own messages: they know what the field means. */
#ifndef DETC_JSON_FIELD_H
#define DETC_JSON_FIELD_H

#include <stdbool.h>
#include <stdint.h>

struct cJSON;

/* obj[name], or NULL when obj is NULL or has no such field (case-sensitive). */
const struct cJSON *detc_json_field(const struct cJSON *obj, const char *name);
/* v is a finite number in [lo, hi]: *out = it. */
bool detc_json_number(const struct cJSON *v, double lo, double hi, double *out);
/* v is an integral number in [lo, hi]: *out = it. */
bool detc_json_integer(const struct cJSON *v, int64_t lo, int64_t hi, int64_t *out);

#endif
