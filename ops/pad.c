/* pad: surrounds x with a border; attribute `pads` holds one [before, after] pair per dimension, output
 * dimension i is before + dims[i] + after. The border holds real 0: bytes 0 for plain dtypes (f32, f16,
 * integers, bool), the zero point for a quantized x (per-tensor only; the output keeps x's quantization,
 * as TFLite's PAD).
 *
 * eval walks the output as rows of its last dimension: a row that maps onto an input row is
 * fill + copy + fill, every other row is all fill. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

/* Output rows per parallel part at least (rows are short; the hand-off costs more). */
#define PAD_MIN_ROWS_PER_PART 64

typedef struct {
    int rank;
    int64_t in_dims[DETC_MAX_RANK], out_dims[DETC_MAX_RANK], before[DETC_MAX_RANK];
    size_t esize;
    uint8_t fill[8];   /* one element of border */
    bool fill_is_zero; /* all fill bytes 0: memset */
    int64_t rows;      /* output rows (product of all but the last output dimension) */
} pad_data;

static bool parse_pads(detc_prep *p, int rank, int64_t pads[][2])
{
    const cJSON *v = detc_attr_get(p, "pads");
    if (!v) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "required attribute 'pads' is missing; give one [before, after] pair per dimension of the "
                        "input, e.g. [[0, 0], [1, 1], [1, 1], [0, 0]] for a rank-4 input");
        return false;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != rank) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'pads' must be a list of %d [before, after] pairs (one per dimension of the "
                        "rank-%d input), found %s of %d entries",
                        rank, rank, cJSON_IsArray(v) ? "a list" : "something else",
                        cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0);
        return false;
    }
    int i = 0;
    const cJSON *pair;
    cJSON_ArrayForEach(pair, v)
    {
        bool ok = cJSON_IsArray(pair) && cJSON_GetArraySize(pair) == 2;
        for (int k = 0; ok && k < 2; k++) {
            const cJSON *e = cJSON_GetArrayItem(pair, k);
            double x = cJSON_IsNumber(e) ? e->valuedouble : -1.0;
            ok = x >= 0.0 && x <= 1024.0 && x == (double)(int64_t)x;
            pads[i][k] = ok ? (int64_t)x : 0;
        }
        if (!ok) {
            detc_prep_error(p, DETC_ERR_ATTR,
                            "attribute 'pads'[%d] must be a pair [before, after] of integers in 0..1024 (pad "
                            "cannot crop; use a slice for negative padding)",
                            i);
            return false;
        }
        i++;
    }
    return true;
}

static void fill_element(pad_data *d, const detc_tensor *x)
{
    memset(d->fill, 0, sizeof d->fill);
    d->fill_is_zero = true;
    if (!detc_tensor_is_quantized(x) || x->quant.zero_point[0] == 0)
        return;
    int32_t zp = x->quant.zero_point[0];
    d->fill_is_zero = false;
    switch (x->dtype) {
    case DETC_U8:
        d->fill[0] = (uint8_t)zp;
        break;
    case DETC_I8: {
        int8_t v = (int8_t)zp;
        memcpy(d->fill, &v, 1);
        break;
    }
    case DETC_I16: {
        int16_t v = (int16_t)zp;
        memcpy(d->fill, &v, 2);
        break;
    }
    default:
        memcpy(d->fill, &zp, 4);
        break;
    }
}

static bool pad_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input") || !ok)
        return false;
    bool quantized = detc_tensor_is_quantized(x);
    if (quantized && !op_require_per_tensor_quant(p, 0, "input"))
        return false;
    int64_t pads[DETC_MAX_RANK][2];
    if (!parse_pads(p, x->rank, pads))
        return false;
    pad_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->rank = x->rank;
    d->esize = detc_dtype_size(x->dtype);
    int32_t dims[DETC_MAX_RANK];
    d->rows = 1;
    for (int i = 0; i < x->rank; i++) {
        d->in_dims[i] = x->dims[i];
        d->before[i] = pads[i][0];
        d->out_dims[i] = pads[i][0] + x->dims[i] + pads[i][1];
        if (d->out_dims[i] > INT32_MAX) {
            detc_prep_error(p, DETC_ERR_SHAPE, "padded dimension %d would be %lld, more than 2^31-1; pad less", i,
                            (long long)d->out_dims[i]);
            return false;
        }
        dims[i] = (int32_t)d->out_dims[i];
        if (i < x->rank - 1)
            d->rows *= d->out_dims[i];
    }
    fill_element(d, x);
    return detc_prep_set_output(p, 0, x->dtype, x->rank, dims, quantized ? &x->quant : NULL, false);
}

/* ---------------- eval ---------------- */

typedef struct {
    const pad_data *d;
    const uint8_t *x;
    uint8_t *out;
    int64_t parts;
} pad_job;

static void fill(const pad_data *d, uint8_t *dst, int64_t n)
{
    if (d->fill_is_zero) {
        memset(dst, 0, (size_t)n * d->esize);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * d->esize, d->fill, d->esize);
}

/* Output row r (over all dims but the last): its input row, or -1 when the row lies in the border. */
static int64_t input_row(const pad_data *d, int64_t r)
{
    int64_t in_row = 0, in_stride = 1;
    for (int i = d->rank - 2; i >= 0; i--) {
        int64_t o = r % d->out_dims[i];
        r /= d->out_dims[i];
        int64_t idx = o - d->before[i];
        if (idx < 0 || idx >= d->in_dims[i])
            return -1;
        in_row += idx * in_stride;
        in_stride *= d->in_dims[i];
    }
    return in_row;
}

static void run_parts(void *ctx, int begin, int end)
{
    const pad_job *j = ctx;
    const pad_data *d = j->d;
    int last = d->rank - 1;
    int64_t out_len = d->rank ? d->out_dims[last] : 1, in_len = d->rank ? d->in_dims[last] : 1;
    int64_t before = d->rank ? d->before[last] : 0, after = out_len - before - in_len;
    size_t es = d->esize;
    for (int part = begin; part < end; part++) {
        int64_t r0 = d->rows * part / j->parts, r1 = d->rows * (part + 1) / j->parts;
        for (int64_t r = r0; r < r1; r++) {
            uint8_t *dst = j->out + (size_t)(r * out_len) * es;
            int64_t src_row = input_row(d, r);
            if (src_row < 0) {
                fill(d, dst, out_len);
                continue;
            }
            fill(d, dst, before);
            memcpy(dst + (size_t)before * es, j->x + (size_t)(src_row * in_len) * es, (size_t)in_len * es);
            fill(d, dst + (size_t)(before + in_len) * es, after);
        }
    }
}

static detc_code pad_eval(const detc_exec *x, detc_node *node)
{
    const pad_data *d = node->op_data;
    pad_job j = {.d = d, .x = detc_in(x->g, node, 0)->data, .out = detc_out(x->g, node, 0)->data};
    j.parts = op_parts(x, d->rows, PAD_MIN_ROWS_PER_PART);
    detc_parallel_for(x->pool, (int)j.parts, 1, run_parts, &j);
    return DETC_OK;
}

const detc_op detc_op_pad = {
    .name = "pad",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = pad_prepare,
    .eval = pad_eval,
};
