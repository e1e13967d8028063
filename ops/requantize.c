/* requantize: a u8/i8 tensor to another u8/i8 quantization (TensorFlow Lite's QUANTIZE with an integer
 * input, quantize.cc: Requantize). Per element:
 *   out = clamp(MultiplyByQuantizedMultiplier(q - in.zp, in.scale / out.scale) + out.zp)
 * the multiplier computed in double from the f32 scales, as TFLite's Prepare does. Per-tensor only. */
#include <stdlib.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    detc_dtype in_dt, out_dt;
    int32_t in_zp, out_zp, lo, hi;
    detc_qmul mul;
} requant_data;

static bool requant_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0), *out = detc_out(p->g, p->node, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    uint32_t q8 = DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8);
    ok = detc_prep_dtype(p, 0, q8, "requantize takes quantized u8/i8; use cast for f32") && ok;
    if (!ok || !op_require_per_tensor_quant(p, 0, "input"))
        return false;
    detc_dtype odt = out->dtype == DETC_U8 || out->dtype == DETC_I8 ? out->dtype : x->dtype;
    if (!detc_prep_set_output(p, 0, odt, x->rank, x->dims, NULL, true) || !op_check_output_quant(p, 0))
        return false;
    requant_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->in_dt = x->dtype;
    d->out_dt = odt;
    d->in_zp = x->quant.zero_point[0];
    d->out_zp = out->quant.zero_point[0];
    const detc_dtype_info *info = detc_dtype_get(odt);
    d->lo = (int32_t)info->qmin;
    d->hi = (int32_t)info->qmax;
    double real = (double)x->quant.scale[0] / (double)out->quant.scale[0];
    if (!detc_qmul_from_double(real, &d->mul)) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "input scale %g / output scale %g = %g cannot be a fixed-point multiplier; fix the output '%s' "
                        "quantization",
                        x->quant.scale[0], out->quant.scale[0], real, out->name);
        return false;
    }
    return true;
}

static detc_code requant_eval(const detc_exec *x, detc_node *node)
{
    const requant_data *d = node->op_data;
    const detc_tensor *in = detc_in(x->g, node, 0);
    int64_t n = detc_tensor_count(in);
    const uint8_t *su = in->data;
    const int8_t *si = in->data;
    void *dst = detc_out(x->g, node, 0)->data;
    for (int64_t i = 0; i < n; i++) {
        int32_t q = d->in_dt == DETC_U8 ? (int32_t)su[i] : (int32_t)si[i];
        int32_t v = detc_qmul_apply(q - d->in_zp, d->mul) + d->out_zp;
        v = v < d->lo ? d->lo : (v > d->hi ? d->hi : v);
        if (d->out_dt == DETC_U8)
            ((uint8_t *)dst)[i] = (uint8_t)v;
        else
            ((int8_t *)dst)[i] = (int8_t)v;
    }
    return DETC_OK;
}

const detc_op detc_op_requantize = {
    .name = "requantize",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = requant_prepare,
    .eval = requant_eval,
};
