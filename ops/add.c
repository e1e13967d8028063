/* add: a + b with numpy broadcasting (ops/broadcast.h) and a fused activation; sub (ops/sub.c): a - b,
 * computed here (TFLite's SUB is ADD's arithmetic with the rescaled second operand subtracted).
 *
 * f32: clamp(a + b) to the activation range.
 * u8/u8 -> u8 and i8/i8 -> i8: TensorFlow Lite's quantized ADD (add.cc Prepare, reference AddElementwise):
 *   left_shift = 20, twice_max = 2 * max(a.scale, b.scale)
 *   a' = MultiplyByQuantizedMultiplierSmallerThanOneExp((qa - a.zp) << 20, a.scale / twice_max)
 *   b' likewise, out = MultiplyBy...(a' + b', twice_max / (2^20 * out.scale)) + out.zp, clamped to the
 *   activation range in the quantized domain. The multipliers are computed in double from the f32
 *   scales, as TFLite does. Bit-exact with TFLite's built-in ADD and SUB kernels on the graphs of
 *   tests/test_tflite_ops.py (same shapes, broadcasts, fused activations, u8 and i8). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "kernels.h"
#include "op_util.h"
#include "ops.h"

#define ADD_LEFT_SHIFT 20

typedef struct {
    op_broadcast bc;
    detc_dtype dtype;
    bool sub; /* a - b */
    float act_lo, act_hi;
    /* quantized: the constants of the kernel table's add_q8 (kernels.h), computed once */
    detc_add_q8_params q;
} add_data;

static bool check_operands(detc_prep *p, bool *quantized)
{
    const detc_tensor *a = detc_prep_in(p, 0), *b = detc_prep_in(p, 1);
    bool ok = op_check_counts(p);
    ok = detc_prep_require_input(p, 0, "a") && ok;
    ok = detc_prep_require_input(p, 1, "b") && ok;
    if (!ok)
        return false;
    uint32_t allowed = DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8);
    const char *fix = "add and sub take f32, or quantized u8/i8; cast the operands to f32 first";
    ok = detc_prep_dtype(p, 0, allowed, fix) && ok;
    ok = detc_prep_dtype(p, 1, allowed, fix) && ok;
    if (!ok)
        return false;
    if (a->dtype != b->dtype) {
        detc_prep_error(p, DETC_ERR_DTYPE,
                        "input 0 '%s' is %s but input 1 '%s' is %s; both operands must have the same dtype; "
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

static bool prepare_quantized(detc_prep *p, add_data *d, detc_activation act)
{
    const detc_tensor *a = detc_prep_in(p, 0), *b = detc_prep_in(p, 1), *out = detc_out(p->g, p->node, 0);
    if (!op_check_output_quant(p, 0))
        return false;
    float sa = a->quant.scale[0], sb = b->quant.scale[0], so = out->quant.scale[0];
    double twice_max = (double)(2.0f * (sa > sb ? sa : sb));
    double real_a = (double)sa / twice_max, real_b = (double)sb / twice_max;
    double real_out = twice_max / ((double)(1 << ADD_LEFT_SHIFT) * (double)so);
    detc_qmul a_mul, b_mul, out_mul;
    if (!detc_qmul_from_double(real_a, &a_mul) || !detc_qmul_from_double(real_b, &b_mul) ||
        !detc_qmul_from_double(real_out, &out_mul) || out_mul.shift > 0) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "the output scale %g is too small for input scales %g and %g (the rescaling multiplier "
                        "2 * max(input scales) / (2^20 * output scale) must be below 1); fix the output '%s' "
                        "quantization",
                        so, sa, sb, out->name);
        return false;
    }
    /* real_a and real_b are at most 1/2: their shifts are <= 0 too (and >= -31, detc_qmul_from_double) */
    detc_add_q8_params *q = &d->q;
    q->is_signed = a->dtype == DETC_I8;
    q->sub = d->sub;
    q->a_offset = -a->quant.zero_point[0];
    q->b_offset = -b->quant.zero_point[0];
    q->a_mult = a_mul.multiplier;
    q->b_mult = b_mul.multiplier;
    q->out_mult = out_mul.multiplier;
    q->a_rshift = -a_mul.shift;
    q->b_rshift = -b_mul.shift;
    q->out_rshift = -out_mul.shift;
    q->out_zp = out->quant.zero_point[0];
    detc_activation_range_q(act, out, &q->act_min, &q->act_max);
    return true;
}

bool detc_add_prepare(detc_prep *p)
{
    detc_activation act = DETC_ACT_NONE;
    bool attrs_ok = detc_attr_activation(p, &act);
    bool quantized = false;
    if (!check_operands(p, &quantized) || !attrs_ok)
        return false;
    add_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    int rank = 0;
    int32_t dims[DETC_MAX_RANK];
    if (!op_broadcast_prepare(p, &d->bc, &rank, dims))
        return false;
    d->dtype = detc_prep_in(p, 0)->dtype;
    d->sub = strcmp(p->node->op_name, "sub") == 0;
    if (!detc_prep_set_output(p, 0, d->dtype, rank, dims, NULL, quantized))
        return false;
    detc_activation_range_f(act, &d->act_lo, &d->act_hi);
    return quantized ? prepare_quantized(p, d, act) : true;
}

/* ---------------- eval ---------------- */

static void row_f32(const void *ctx, const void *a, int64_t sa, const void *b, int64_t sb, void *out, int64_t n)
{
    const add_data *d = ctx;
    const float *x = a, *y = b;
    float *o = out, lo = d->act_lo, hi = d->act_hi;
    if (d->sub) {
        for (int64_t i = 0; i < n; i++) {
            float v = x[i * sa] - y[i * sb];
            v = v < lo ? lo : v;
            o[i] = v > hi ? hi : v;
        }
        return;
    }
    if (sa && sb) {
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] + y[i];
            v = v < lo ? lo : v;
            o[i] = v > hi ? hi : v;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * sa] + y[i * sb];
        v = v < lo ? lo : v;
        o[i] = v > hi ? hi : v;
    }
}

/* The quantized rows go to the kernel table's add_q8, which takes both the op's constants and the table. */
typedef struct {
    const detc_add_q8_params *q;
    const detc_kernels *k;
} add_q8_ctx;

static void row_q8(const void *ctx, const void *a, int64_t sa, const void *b, int64_t sb, void *out, int64_t n)
{
    const add_q8_ctx *c = ctx;
    c->k->add_q8(c->q, (size_t)n, a, (int)sa, b, (int)sb, out);
}

detc_code detc_add_eval(const detc_exec *x, detc_node *node)
{
    const add_data *d = node->op_data;
    size_t es = detc_dtype_size(d->dtype);
    add_q8_ctx qc = {.q = &d->q, .k = x->kernels};
    bool f32 = d->dtype == DETC_F32;
    op_broadcast_run(x, &d->bc, detc_in(x->g, node, 0)->data, es, detc_in(x->g, node, 1)->data, es,
                     detc_out(x->g, node, 0)->data, es, f32 ? row_f32 : row_q8, f32 ? (const void *)d : &qc);
    return DETC_OK;
}

const detc_op detc_op_add = {
    .name = "add",
    .min_inputs = 2,
    .max_inputs = 2,
    .n_outputs = 1,
    .prepare = detc_add_prepare,
    .eval = detc_add_eval,
};
