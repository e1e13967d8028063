/* relu: max(x, 0). f32, and u8/i8 with TensorFlow Lite's quantized RELU (the output may carry its own
 * quantization; the input is rescaled to it). relu6 (ops/relu6.c) shares this implementation with an
 * upper bound of 6; ops/relu.h has the arithmetic. An optional second operand, a row count (op_util.h),
 * limits the work to the first count rows of axis 0; later rows are zero. */
#include "relu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

/* Elements per parallel part: below this, thread hand-off costs more than the loop. */
#define RELU_MIN_PER_PART 16384

typedef struct {
    detc_dtype dtype;
    float act_max;
    int64_t count;       /* elements */
    int64_t batch;       /* rows of axis 0, for the optional row count operand */
    uint8_t zero_byte;   /* what a row past the count holds: real 0 in the output's encoding */
    uint8_t table[256]; /* quantized: output byte for each input byte */
} relux_data;

/* TFLite: out.zp + (int32)roundf(bound / out.scale), intersected with the dtype range. */
static int32_t quantized_bound(float bound, const detc_tensor *out, bool upper)
{
    const detc_dtype_info *info = detc_dtype_get(out->dtype);
    float q = roundf(bound / out->quant.scale[0]) + (float)out->quant.zero_point[0];
    if (upper)
        return q >= (float)info->qmax ? (int32_t)info->qmax : (int32_t)q;
    return q <= (float)info->qmin ? (int32_t)info->qmin : (int32_t)q;
}

static bool relux_table(detc_prep *p, relux_data *d, const detc_tensor *x, const detc_tensor *out)
{
    detc_qmul m;
    float real = x->quant.scale[0] / out->quant.scale[0]; /* f32 division, as TFLite's ReluPrepare */
    if (!detc_qmul_from_double((double)real, &m)) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "the rescaling multiplier input scale / output scale = %g cannot be represented (it must "
                        "be below 2^30); fix the output '%s' quantization",
                        (double)real, out->name);
        return false;
    }
    const detc_dtype_info *info = detc_dtype_get(x->dtype);
    int32_t lo = quantized_bound(0.0f, out, false);
    int32_t hi = isinf(d->act_max) ? (int32_t)info->qmax : quantized_bound(d->act_max, out, true);
    int32_t in_zp = x->quant.zero_point[0], out_zp = out->quant.zero_point[0];
    for (int32_t q = (int32_t)info->qmin; q <= (int32_t)info->qmax; q++) {
        int32_t v = out_zp + detc_qmul_apply(q - in_zp, m);
        v = v < lo ? lo : (v > hi ? hi : v);
        d->table[(uint8_t)q] = (uint8_t)v;
    }
    return true;
}

bool op_relux_prepare(detc_prep *p, float act_max)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input") || !ok)
        return false;
    ok = op_check_row_count(p, 1);
    if (ok && detc_prep_in(p, 1) && x->rank < 1) {
        detc_prep_error(p, DETC_ERR_SHAPE, "a row count needs an input with a batch axis; this input is a scalar");
        ok = false;
    }
    char fix[128];
    snprintf(fix, sizeof fix, "%s takes f32, or quantized u8/i8; cast the input to f32 first", p->node->op_name);
    if (!detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8), fix) || !ok)
        return false;
    bool quantized = x->dtype != DETC_F32;
    if (quantized && !op_require_per_tensor_quant(p, 0, "input"))
        return false;
    relux_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->dtype = x->dtype;
    d->act_max = act_max;
    d->count = detc_tensor_count(x);
    d->batch = x->rank >= 1 ? x->dims[0] : 1;
    if (!detc_prep_set_output(p, 0, x->dtype, x->rank, x->dims, NULL, quantized))
        return false;
    if (!quantized)
        return true;
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    if (!op_check_output_quant(p, 0))
        return false;
    d->zero_byte = (uint8_t)out->quant.zero_point[0];
    return relux_table(p, d, x, out);
}

typedef struct {
    const relux_data *d;
    const void *x;
    void *out;
    int64_t n; /* elements to compute */
    int parts;
} relux_job;

/* In blocks with a constant trip count and restrict pointers, which gcc vectorizes at -O2 (its cheap cost
 * model refuses a loop that needs an epilogue); the same comparisons per element. */
#define RELU_BLOCK 32

static void relu_f32(int64_t n, const float *restrict src, float *restrict dst, float top)
{
    int64_t i = 0;
    for (; i + RELU_BLOCK <= n; i += RELU_BLOCK) {
        const float *s = src + i;
        float *o = dst + i;
        for (int k = 0; k < RELU_BLOCK; k++) {
            float v = s[k] < 0.0f ? 0.0f : s[k]; /* NaN stays NaN */
            o[k] = v > top ? top : v;
        }
    }
    for (; i < n; i++) {
        float v = src[i] < 0.0f ? 0.0f : src[i];
        dst[i] = v > top ? top : v;
    }
}

static void relux_parts(void *ctx, int begin, int end)
{
    const relux_job *j = ctx;
    const relux_data *d = j->d;
    for (int part = begin; part < end; part++) {
        int64_t lo = j->n * part / j->parts, hi = j->n * (part + 1) / j->parts;
        if (d->dtype == DETC_F32) {
            relu_f32(hi - lo, (const float *)j->x + lo, (float *)j->out + lo, d->act_max);
        } else {
            const uint8_t *src = j->x;
            uint8_t *dst = j->out;
            for (int64_t i = lo; i < hi; i++)
                dst[i] = d->table[src[i]];
        }
    }
}

detc_code op_relux_eval(const detc_exec *x, detc_node *node)
{
    const relux_data *d = node->op_data;
    relux_job j = {.d = d, .x = detc_in(x->g, node, 0)->data, .out = detc_out(x->g, node, 0)->data};
    int64_t per_row = d->count / d->batch, rows = op_row_count(x, node, 1, (int)d->batch);
    j.n = rows * per_row;
    j.parts = op_parts(x, j.n, RELU_MIN_PER_PART);
    if (j.n > 0)
        detc_parallel_for(x->pool, j.parts, 1, relux_parts, &j);
    size_t esize = d->dtype == DETC_F32 ? sizeof(float) : 1;
    /* rows past the count: real 0 */
    memset((uint8_t *)j.out + (size_t)j.n * esize, d->dtype == DETC_F32 ? 0 : d->zero_byte,
           (size_t)(d->count - j.n) * esize);
    return DETC_OK;
}

static bool relu_prepare(detc_prep *p)
{
    return op_relux_prepare(p, INFINITY);
}

const detc_op detc_op_relu = {
    .name = "relu",
    .min_inputs = 1,
    .max_inputs = 2,
    .n_outputs = 1,
    .prepare = relu_prepare,
    .eval = op_relux_eval,
};
