/* mul: a * b with numpy broadcasting (ops/broadcast.h) and a fused activation.
 *
 * f32: clamp(a * b) to the activation range.
 * u8/u8 -> u8 and i8/i8 -> i8: TensorFlow Lite's quantized MUL (mul.cc Prepare, MulElementwise):
 *   multiplier = a.scale * b.scale / out.scale   (computed in f32, then widened, exactly as TFLite)
 *   out = clamp(MultiplyByQuantizedMultiplier((qa - a.zp) * (qb - b.zp), multiplier) + out.zp)
 * with the activation clamp in the quantized domain. Bit-exact with TFLite's built-in MUL kernel on the graphs
 * of tests/test_tflite_ops.py (same shapes, broadcasts, fused activations, u8 and i8). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <stdlib.h>

#include "broadcast.h"
#include "op_util.h"
#include "ops.h"

typedef struct {
    op_broadcast bc;
    detc_dtype dtype;
    float act_lo, act_hi;
    int32_t a_offset, b_offset, out_offset, act_min, act_max;
    detc_qmul mul;
} mul_data;

static bool check_operands(detc_prep *p, bool *quantized)
{
    const detc_tensor *a = detc_prep_in(p, 0), *b = detc_prep_in(p, 1);
    bool ok = op_check_counts(p);
    ok = detc_prep_require_input(p, 0, "a") && ok;
    ok = detc_prep_require_input(p, 1, "b") && ok;
    if (!ok)
        return false;
    uint32_t allowed = DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8);
    const char *fix = "mul takes f32, or quantized u8/i8; cast the operands to f32 first";
    ok = detc_prep_dtype(p, 0, allowed, fix) && ok;
    ok = detc_prep_dtype(p, 1, allowed, fix) && ok;
    if (!ok)
        return false;
    if (a->dtype != b->dtype) {
        detc_prep_error(p, DETC_ERR_DTYPE,
                        "input 0 '%s' is %s but input 1 '%s' is %s; both operands of mul must have the same dtype; "
                        "fix: cast one of them (quantized operands may have different scales, not dtypes)",
                        a->name, detc_dtype_name(a->dtype), b->name, detc_dtype_name(b->dtype));
        return false;
    }
    *quantized = a->dtype != DETC_F32;
    if (*quantized) {
        ok = op_require_per_tensor_quant(p, 0, "a") && ok;
        ok = op_require_per_tensor_quant(p, 1, "b") && ok;
    }
    return ok;
}

static bool prepare_quantized(detc_prep *p, mul_data *d, detc_activation act)
{
    const detc_tensor *a = detc_prep_in(p, 0), *b = detc_prep_in(p, 1), *out = detc_out(p->g, p->node, 0);
    if (!op_check_output_quant(p, 0))
        return false;
    float product = a->quant.scale[0] * b->quant.scale[0];
    float real = product / out->quant.scale[0];
    if (!detc_qmul_from_double((double)real, &d->mul)) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "the requantization multiplier a.scale x b.scale / out.scale = %g cannot be represented "
                        "(it must be below 2^30); fix the output '%s' quantization",
                        (double)real, out->name);
        return false;
    }
    d->a_offset = -a->quant.zero_point[0];
    d->b_offset = -b->quant.zero_point[0];
    d->out_offset = out->quant.zero_point[0];
    detc_activation_range_q(act, out, &d->act_min, &d->act_max);
    return true;
}

static bool mul_prepare(detc_prep *p)
{
    detc_activation act = DETC_ACT_NONE;
    bool attrs_ok = detc_attr_activation(p, &act);
    bool quantized = false;
    if (!check_operands(p, &quantized) || !attrs_ok)
        return false;
    mul_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    int rank = 0;
    int32_t dims[DETC_MAX_RANK];
    if (!op_broadcast_prepare(p, &d->bc, &rank, dims))
        return false;
    d->dtype = detc_prep_in(p, 0)->dtype;
    if (!detc_prep_set_output(p, 0, d->dtype, rank, dims, NULL, quantized))
        return false;
    detc_activation_range_f(act, &d->act_lo, &d->act_hi);
    return quantized ? prepare_quantized(p, d, act) : true;
}

/* ---------------- eval ---------------- */

static void row_f32(const void *ctx, const void *a, int64_t sa, const void *b, int64_t sb, void *out, int64_t n)
{
    const mul_data *d = ctx;
    const float *x = a, *y = b;
    float *o = out, lo = d->act_lo, hi = d->act_hi;
    if (sa && sb) {
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] * y[i];
            v = v < lo ? lo : v;
            o[i] = v > hi ? hi : v;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * sa] * y[i * sb];
        v = v < lo ? lo : v;
        o[i] = v > hi ? hi : v;
    }
}

static inline int32_t mul_q(const mul_data *d, int32_t qa, int32_t qb)
{
    int32_t v = detc_qmul_apply((qa + d->a_offset) * (qb + d->b_offset), d->mul) + d->out_offset;
    return v < d->act_min ? d->act_min : (v > d->act_max ? d->act_max : v);
}

static void row_u8(const void *ctx, const void *a, int64_t sa, const void *b, int64_t sb, void *out, int64_t n)
{
    const uint8_t *x = a, *y = b;
    uint8_t *o = out;
    for (int64_t i = 0; i < n; i++)
        o[i] = (uint8_t)mul_q(ctx, x[i * sa], y[i * sb]);
}

static void row_i8(const void *ctx, const void *a, int64_t sa, const void *b, int64_t sb, void *out, int64_t n)
{
    const int8_t *x = a, *y = b;
    int8_t *o = out;
    for (int64_t i = 0; i < n; i++)
        o[i] = (int8_t)mul_q(ctx, x[i * sa], y[i * sb]);
}

static detc_code mul_eval(const detc_exec *x, detc_node *node)
{
    const mul_data *d = node->op_data;
    op_broadcast_row_fn row = d->dtype == DETC_F32 ? row_f32 : d->dtype == DETC_U8 ? row_u8 : row_i8;
    size_t es = detc_dtype_size(d->dtype);
    op_broadcast_run(x, &d->bc, detc_in(x->g, node, 0)->data, es, detc_in(x->g, node, 1)->data, es,
                     detc_out(x->g, node, 0)->data, es, row, d);
    return DETC_OK;
}

const detc_op detc_op_mul = {
    .name = "mul",
    .min_inputs = 2,
    .max_inputs = 2,
    .n_outputs = 1,
    .prepare = mul_prepare,
    .eval = mul_eval,
};
