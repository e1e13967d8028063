/* mean: the average over `axes` (TensorFlow Lite's MEAN, f32): every input element, in memory order, is
 * added (f32) to its output element, then each sum is divided by the number of elements it got, as
 * TFLite's reference reduction does. `keep_dims` keeps the reduced axes as 1. Quantized MEAN is refused
 * by detc-convert. */
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    int rank;
    int32_t in_dims[DETC_MAX_RANK];
    int64_t out_stride[DETC_MAX_RANK]; /* output element stride of input axis i (0 when reduced) */
    int64_t count;                     /* elements per output */
} mean_data;

static bool mean_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32), "mean takes f32; cast the input to f32 first") && ok;
    ok = detc_prep_rank(p, 0, 1, DETC_MAX_RANK) && ok;
    if (!ok)
        return false;
    int64_t axes[DETC_MAX_RANK];
    int n_axes = 0;
    bool keep = false;
    ok = detc_attr_ints(p, "axes", true, -1, DETC_MAX_RANK, NULL, -x->rank, x->rank - 1, axes, &n_axes);
    ok = detc_attr_bool(p, "keep_dims", false, &keep) && ok;
    if (!ok)
        return false;
    bool reduced[DETC_MAX_RANK] = {false};
    for (int i = 0; i < n_axes; i++)
        reduced[(axes[i] + x->rank) % x->rank] = true; /* TFLite accepts repeated axes */
    mean_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    int32_t out_dims[DETC_MAX_RANK];
    int out_rank = 0;
    d->rank = x->rank;
    d->count = 1;
    memcpy(d->in_dims, x->dims, sizeof d->in_dims);
    int64_t s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        d->out_stride[i] = reduced[i] ? 0 : s;
        if (reduced[i])
            d->count *= x->dims[i];
        else
            s *= x->dims[i];
    }
    for (int i = 0; i < x->rank; i++)
        if (!reduced[i] || keep)
            out_dims[out_rank++] = reduced[i] ? 1 : x->dims[i];
    if (out_rank == 0)
        out_dims[out_rank++] = 1; /* TFLite gives a scalar; detc keeps [1] */
    return detc_prep_set_output(p, 0, DETC_F32, out_rank, out_dims, NULL, false);
}

static detc_code mean_eval(const detc_exec *x, detc_node *node)
{
    const mean_data *d = node->op_data;
    const detc_tensor *in = detc_in(x->g, node, 0);
    const float *src = in->data;
    float *out = detc_out(x->g, node, 0)->data;
    int64_t n = detc_tensor_count(in), n_out = detc_tensor_count(detc_out(x->g, node, 0));
    memset(out, 0, (size_t)n_out * sizeof *out);
    int32_t idx[DETC_MAX_RANK] = {0};
    int64_t o = 0;
    for (int64_t i = 0; i < n; i++) {
        out[o] += src[i];
        for (int a = d->rank - 1; a >= 0; a--) {
            o += d->out_stride[a];
            if (++idx[a] < d->in_dims[a])
                break;
            o -= d->out_stride[a] * d->in_dims[a];
            idx[a] = 0;
        }
    }
    for (int64_t i = 0; i < n_out; i++)
        out[i] = out[i] / (float)d->count;
    return DETC_OK;
}

const detc_op detc_op_mean = {
    .name = "mean",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = mean_prepare,
    .eval = mean_eval,
};
