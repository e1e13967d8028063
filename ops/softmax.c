/* softmax: y = exp(beta * (x - max)) / sum(exp(beta * (x - max))) along attribute `axis` (default -1,
 * negative counts from the end), `beta` default 1 (TensorFlow Lite's SOFTMAX option). Subtracting the
 * maximum first keeps exp() in range for any finite input (numerically stable); the sum is in f32, in
 * order along the axis.
 *
 * u8/i8 (per tensor, along the last axis only, as TFLite): TensorFlow Lite's optimized quantized kernel
 * (softmax.cc with PopulateSoftmaxLookupTable): table[255 - v] = expf(-in.scale * beta * v) for v = 0..255;
 * per row, with m the row's largest raw value, e(q) = table[255 - m + q], sum = the f32 sum of e in order,
 * inv = 1 / (sum * out.scale), out = clamp((int)(e(q) * inv + 0.5f) + out.zp). The output must be scale
 * 1/256 with zero point 0 (u8) or -128 (i8), as TFLite requires. */
#include <math.h>
#include <stdlib.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

/* Rows (softmax vectors) per parallel part at least. */
#define SOFTMAX_MIN_ROWS_PER_PART 64

typedef struct {
    int64_t outer, n, inner; /* dims before the axis, along it, after it */
    float beta;
    detc_dtype dtype;
    float out_scale;
    int32_t out_zp;
    float table[256]; /* quantized: expf(-in.scale * beta * v) at 255 - v */
} softmax_data;

/* TFLite: the output of a quantized softmax is 1/256 (within 0.1%) with zero point 0 (u8) or -128 (i8) */
static bool check_quantized(detc_prep *p, const detc_tensor *x, int axis)
{
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    if (axis != x->rank - 1) {
        detc_prep_error(p, DETC_ERR_ATTR, "a quantized softmax runs along the last axis only (TFLite's kernel); "
                        "axis is %d of rank %d", axis, x->rank);
        return false;
    }
    int32_t want_zp = x->dtype == DETC_U8 ? 0 : -128;
    float s = out->quant.count == 1 ? out->quant.scale[0] : 0.0f;
    if (out->quant.count == 1 && fabsf(s - 1.0f / 256) <= 0.001f / 256 && out->quant.zero_point[0] == want_zp)
        return true;
    if (out->quant.count == 1)
        detc_prep_error(p, DETC_ERR_QUANT,
                        "output 0 '%s' has scale %.9g zero point %d; a quantized softmax must output scale 1/256 "
                        "with zero point %d, as TensorFlow Lite requires",
                        out->name, s, (int)out->quant.zero_point[0], (int)want_zp);
    return false;
}

static bool softmax_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    int64_t axis = -1;
    double beta = 1.0;
    ok = detc_attr_int(p, "axis", false, -1, -DETC_MAX_RANK, DETC_MAX_RANK - 1, &axis) && ok;
    ok = detc_attr_float(p, "beta", false, 1.0, 1e-6, 1e6, &beta) && ok;
    if (!detc_prep_require_input(p, 0, "input") || !ok)
        return false;
    if (!detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "softmax takes f32, or u8/i8 with quantization") ||
        !detc_prep_rank(p, 0, 1, DETC_MAX_RANK))
        return false;
    bool quantized = x->dtype != DETC_F32;
    if (quantized && !op_require_per_tensor_quant(p, 0, "input"))
        return false;
    if (axis < -x->rank || axis >= x->rank) {
        char xs[128];
        detc_shape_str(x->rank, x->dims, xs, sizeof xs);
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'axis' is %lld, but the input %s has rank %d; use -%d..%d", (long long)axis, xs,
                        x->rank, x->rank, x->rank - 1);
        return false;
    }
    int a = (int)(axis < 0 ? axis + x->rank : axis);
    softmax_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->outer = d->inner = 1;
    for (int i = 0; i < a; i++)
        d->outer *= x->dims[i];
    d->n = x->dims[a];
    for (int i = a + 1; i < x->rank; i++)
        d->inner *= x->dims[i];
    d->beta = (float)beta;
    d->dtype = x->dtype;
    if (!detc_prep_set_output(p, 0, x->dtype, x->rank, x->dims, NULL, quantized))
        return false;
    if (!quantized)
        return true;
    if (!check_quantized(p, x, a))
        return false;
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    d->out_scale = out->quant.scale[0];
    d->out_zp = out->quant.zero_point[0];
    float scale = -x->quant.scale[0] * d->beta;
    for (int v = 0; v <= 255; v++)
        d->table[255 - v] = expf(scale * (float)v);
    return true;
}

/* One row of a quantized softmax (raw values, u8 or i8). */
static void softmax_row_q(const softmax_data *d, const uint8_t *x, uint8_t *y)
{
    bool s8 = d->dtype == DETC_I8;
    int32_t mx = s8 ? -128 : 0, lo = s8 ? -128 : 0, hi = s8 ? 127 : 255;
    for (int64_t i = 0; i < d->n; i++) {
        int32_t v = s8 ? (int32_t)(int8_t)x[i] : (int32_t)x[i];
        mx = v > mx ? v : mx;
    }
    const float *t = d->table + 255 - mx; /* t[q] for q <= mx */
    float sum = 0.0f;
    for (int64_t i = 0; i < d->n; i++)
        sum += t[s8 ? (int32_t)(int8_t)x[i] : (int32_t)x[i]];
    float inv = 1.0f / (sum * d->out_scale);
    for (int64_t i = 0; i < d->n; i++) {
        float pr = t[s8 ? (int32_t)(int8_t)x[i] : (int32_t)x[i]] * inv;
        int32_t q = (int32_t)(pr + 0.5f) + d->out_zp;
        y[i] = (uint8_t)(q < lo ? lo : (q > hi ? hi : q));
    }
}

/* ---------------- eval ---------------- */

typedef struct {
    const softmax_data *d;
    const void *x;
    void *out;
    int parts;
} softmax_job;

/* One softmax vector of n values `stride` apart. */
static void softmax_vector(const float *x, float *y, int64_t n, int64_t stride, float beta)
{
    float mx = x[0];
    for (int64_t i = 1; i < n; i++)
        mx = x[i * stride] > mx ? x[i * stride] : mx;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float e = expf((x[i * stride] - mx) * beta);
        y[i * stride] = e;
        sum += e;
    }
    for (int64_t i = 0; i < n; i++)
        y[i * stride] /= sum;
}

static void run_parts(void *ctx, int begin, int end)
{
    const softmax_job *j = ctx;
    const softmax_data *d = j->d;
    int64_t rows = d->outer * d->inner;
    for (int part = begin; part < end; part++) {
        int64_t r0 = rows * part / j->parts, r1 = rows * (part + 1) / j->parts;
        for (int64_t r = r0; r < r1; r++) {
            if (d->dtype != DETC_F32) { /* last axis: inner is 1 */
                softmax_row_q(d, (const uint8_t *)j->x + r * d->n, (uint8_t *)j->out + r * d->n);
                continue;
            }
            int64_t o = r / d->inner, i = r % d->inner, base = o * d->n * d->inner + i;
            softmax_vector((const float *)j->x + base, (float *)j->out + base, d->n, d->inner, d->beta);
        }
    }
}

static detc_code softmax_eval(const detc_exec *x, detc_node *node)
{
    const softmax_data *d = node->op_data;
    softmax_job j = {.d = d, .x = detc_in(x->g, node, 0)->data, .out = detc_out(x->g, node, 0)->data};
    j.parts = op_parts(x, d->outer * d->inner, SOFTMAX_MIN_ROWS_PER_PART);
    detc_parallel_for(x->pool, j.parts, 1, run_parts, &j);
    return DETC_OK;
}

const detc_op detc_op_softmax = {
    .name = "softmax",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = softmax_prepare,
    .eval = softmax_eval,
};
