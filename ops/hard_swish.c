/* hard_swish: x * relu6(x + 3) / 6 (MobileNet v3).
 * f32: in * min(6, max(0, in + 3)) / 6, in that order, as TensorFlow Lite's reference kernel.
 * u8/i8: TensorFlow Lite's quantized HARD_SWISH (activations.cc HardSwishPrepare, reference_ops::HardSwish),
 * in 16-bit fixed point:
 *   hires_input_scale = in.scale / 128, reluish_scale = 3 / 32768
 *   output multiplier = hires_input_scale / out.scale, reluish multiplier = hires_input_scale / reluish_scale,
 *     each QuantizeMultiplier'd, then rounded to 16 bits ((m + 2^15) >> 16, saturating)
 *   v = (q - in.zp) * 128;  o = SRDHM16(v, out_mult)
 *   r = v (<< reluish_exp - 1 saturating when reluish_exp > 0); r = SRDHM16(r, reluish_mult);
 *   then << 1 saturating (exp > 0) or rounding >> -exp (exp < 0); r = (r + 32768) >> 1   ([0, 1] in Q15)
 *   out = RoundingDivideByPOT(SaturatingDoublingHighMul16(r, o), -out_exp) + out.zp, clamped. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <stdlib.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    detc_dtype dtype;
    int32_t in_zp, out_zp, lo, hi;
    int16_t out_mult, reluish_mult;
    int out_exp, reluish_exp;
} hs_data;

static int16_t sat16(int32_t v)
{
    return (int16_t)(v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v));
}

/* gemmlowp SaturatingRoundingDoublingHighMul on int16 */
static int16_t srdhm16(int16_t a, int16_t b)
{
    if (a == b && a == INT16_MIN)
        return INT16_MAX;
    int32_t ab = (int32_t)a * (int32_t)b;
    int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* TFLite's SaturatingDoublingHighMul (no rounding: the division truncates) */
static int16_t sdhm16(int16_t a, int16_t b)
{
    if (a == b && a == INT16_MIN)
        return INT16_MAX;
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static int16_t rdbpot16(int16_t x, int exponent)
{
    int32_t mask = (1 << exponent) - 1, remainder = x & mask, threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

static int16_t down_to_16(int32_t m)
{
    if (m >= INT32_MAX - (1 << 15))
        return INT16_MAX;
    return (int16_t)((m + (1 << 15)) >> 16);
}

static bool hs_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "hard_swish takes f32, or u8/i8 with quantization") &&
         ok;
    bool quantized = x->dtype != DETC_F32;
    if (ok && quantized)
        ok = op_require_per_tensor_quant(p, 0, "input");
    if (!ok || !detc_prep_set_output(p, 0, x->dtype, x->rank, x->dims, NULL, quantized))
        return false;
    hs_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->dtype = x->dtype;
    if (!quantized)
        return true;
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    if (!op_check_output_quant(p, 0))
        return false;
    float hires = (1.0f / 128.0f) * x->quant.scale[0];
    float reluish_scale = 3.0f / 32768.0f;
    float out_m = hires / out->quant.scale[0], rel_m = hires / reluish_scale;
    detc_qmul mo, mr;
    if (!detc_qmul_from_double((double)out_m, &mo) || !detc_qmul_from_double((double)rel_m, &mr) || mo.shift > 0) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "input scale %g and output scale %g give an output multiplier of %g; TFLite requires it "
                        "below 1 (output scale above input scale / 128); fix the output '%s' quantization",
                        x->quant.scale[0], out->quant.scale[0], out_m, out->name);
        return false;
    }
    d->out_mult = down_to_16(mo.multiplier);
    d->out_exp = mo.shift;
    d->reluish_mult = down_to_16(mr.multiplier);
    d->reluish_exp = mr.shift;
    d->in_zp = x->quant.zero_point[0];
    d->out_zp = out->quant.zero_point[0];
    const detc_dtype_info *info = detc_dtype_get(x->dtype);
    d->lo = (int32_t)info->qmin;
    d->hi = (int32_t)info->qmax;
    return true;
}

static int32_t hs_q(const hs_data *d, int32_t q)
{
    int16_t v = (int16_t)((q - d->in_zp) * (1 << 7));
    int16_t o = srdhm16(v, d->out_mult);
    int16_t r = v;
    if (d->reluish_exp > 0)
        r = sat16((int32_t)r * (1 << (d->reluish_exp - 1)));
    r = srdhm16(r, d->reluish_mult);
    if (d->reluish_exp > 0)
        r = sat16((int32_t)r * 2);
    if (d->reluish_exp < 0)
        r = rdbpot16(r, -d->reluish_exp);
    r = (int16_t)(((int32_t)r + (1 << 15)) >> 1);
    int16_t pre = sdhm16(r, o);
    int32_t out = (int32_t)rdbpot16(pre, -d->out_exp) + d->out_zp;
    return out < d->lo ? d->lo : (out > d->hi ? d->hi : out);
}

static detc_code hs_eval(const detc_exec *x, detc_node *node)
{
    const hs_data *d = node->op_data;
    const detc_tensor *in = detc_in(x->g, node, 0);
    int64_t n = detc_tensor_count(in);
    void *dst = detc_out(x->g, node, 0)->data;
    if (d->dtype == DETC_F32) {
        const float *s = in->data;
        float *o = dst;
        for (int64_t i = 0; i < n; i++) {
            float v = s[i], r = v + 3.0f;
            r = r < 0.0f ? 0.0f : r;
            r = r > 6.0f ? 6.0f : r;
            o[i] = v * r / 6.0f;
        }
    } else if (d->dtype == DETC_U8) {
        const uint8_t *s = in->data;
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = (uint8_t)hs_q(d, s[i]);
    } else {
        const int8_t *s = in->data;
        for (int64_t i = 0; i < n; i++)
            ((int8_t *)dst)[i] = (int8_t)hs_q(d, s[i]);
    }
    return DETC_OK;
}

const detc_op detc_op_hard_swish = {
    .name = "hard_swish",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = hs_prepare,
    .eval = hs_eval,
};
