/* tanh: f32 only (tanhf). TensorFlow Lite's float TANH computes Eigen's rational approximation of tanh;
 * the two agree within a few float ulps. Quantized TANH is refused by detc-convert. */
#include <math.h>

#include "op_util.h"
#include "ops.h"

static bool tanh_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32), "tanh takes f32; cast the input to f32 first") && ok;
    return ok && detc_prep_set_output(p, 0, DETC_F32, x->rank, x->dims, NULL, false);
}

static detc_code tanh_eval(const detc_exec *x, detc_node *node)
{
    const detc_tensor *in = detc_in(x->g, node, 0);
    const float *s = in->data;
    float *o = detc_out(x->g, node, 0)->data;
    int64_t n = detc_tensor_count(in);
    for (int64_t i = 0; i < n; i++)
        o[i] = tanhf(s[i]);
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
