/* tanh.
 * f32: tanhf. TensorFlow Lite's float TANH computes Eigen's rational approximation of tanh; the two
 * agree within a few float ulps (tests/test_tflite_ops.py: within 1e-5 relative).
 * u8/i8: TensorFlow Lite's default TANH kernel (activations.cc, kGenericOptimized), a 256-entry table:
 *   real = in_scale * (q - in_zp); q' = clamp(round_half_away(tanhf(real) * (1 / out_scale)) + out_zp)
 * The output must be scale 1/128 with zero point 128 (u8) or 0 (i8), as TFLite requires. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>

#include "kernels.h"
#include "op_util.h"
#include "ops.h"

typedef struct {
    detc_dtype dtype;
    uint8_t table[256]; /* indexed by the raw byte */
} tanh_data;

static bool check_output_quant(detc_prep *p, detc_dtype dt)
{
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    int32_t want_zp = dt == DETC_U8 ? 128 : 0;
    if (out->quant.count != 1)
        return false; /* reported by detc_prep_set_output */
    if (out->quant.scale[0] == 1.0f / 128.0f && out->quant.zero_point[0] == want_zp)
        return true;
    detc_prep_error(p, DETC_ERR_QUANT,
                    "output 0 '%s' has scale %.9g zero point %d; a quantized tanh must output scale 1/128 "
                    "(0.0078125) with zero point %d, as TensorFlow Lite requires; fix the output's \"quant\"",
                    out->name, out->quant.scale[0], (int)out->quant.zero_point[0], (int)want_zp);
    return false;
}

static bool tanh_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "tanh takes f32, or u8/i8 with quantization; cast the input to f32 first") &&
         ok;
    bool quantized = x->dtype != DETC_F32;
    if (ok && quantized)
        ok = op_require_per_tensor_quant(p, 0, "input");
    if (!ok || !detc_prep_set_output(p, 0, x->dtype, x->rank, x->dims, NULL, quantized))
        return false;
    tanh_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->dtype = x->dtype;
    if (!quantized)
        return true;
    if (!check_output_quant(p, x->dtype))
        return false;
    op_fill_lut(d->table, x, detc_out(p->g, p->node, 0), tanhf);
    return true;
}

static detc_code tanh_eval(const detc_exec *x, detc_node *node)
{
    const tanh_data *d = node->op_data;
    const detc_tensor *in = detc_in(x->g, node, 0);
    int64_t n = detc_tensor_count(in);
    if (d->dtype == DETC_F32) {
        const float *s = in->data;
        float *o = detc_out(x->g, node, 0)->data;
        for (int64_t i = 0; i < n; i++)
            o[i] = tanhf(s[i]);
        return DETC_OK;
    }
    x->kernels->lut_u8(d->table, (size_t)n, in->data, detc_out(x->g, node, 0)->data);
    return DETC_OK;
}

const detc_op detc_op_tanh = {
    .name = "tanh",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = tanh_prepare,
    .eval = tanh_eval,
};
