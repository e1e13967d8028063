/* mean: the average over `axes` (TensorFlow Lite's MEAN). `keep_dims` keeps the reduced axes as 1.
 * f32: every input element, in memory order, is added (f32) to its output element, then each sum is
 * divided by the number of elements it got, as TFLite's reference reduction does.
 * u8/i8 (per tensor), as TFLite's reduce.cc:
 *   4-D input averaged over axes 1 and 2 (global pooling: squeeze-excite blocks): the optimized Mean,
 *     multiplier = QuantizeMultiplier(in.scale / (H*W * out.scale)) (f32 arithmetic),
 *     bias = out.zp - (int)(in.zp * in.scale / out.scale) (f32, truncated),
 *     out = clamp(MultiplyByQuantizedMultiplier(sum of q, multiplier) + bias)
 *   any other axes: QuantizedMeanOrSum, in f32: s = in.scale / out.scale, mean = (float)sum / count,
 *     out = clamp(round(mean * s - in.zp * s) + out.zp). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    detc_dtype dtype;
    bool global_hw; /* quantized 4-D mean over axes 1 and 2, keep_dims */
    bool same_q;    /* input and output quantization equal */
    detc_qmul mul;
    int32_t bias, lo, hi, out_zp, in_zp;
    float s, zs; /* general quantized path: in.scale / out.scale and in.zp * s */
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
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "mean takes f32, or u8/i8 with quantization; cast the input to f32 first") &&
         ok;
    if (ok && x->dtype != DETC_F32)
        ok = op_require_per_tensor_quant(p, 0, "input");
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
    d->dtype = x->dtype;
    bool quantized = x->dtype != DETC_F32;
    if (!detc_prep_set_output(p, 0, x->dtype, out_rank, out_dims, NULL, quantized))
        return false;
    if (!quantized)
        return true;
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    if (!op_check_output_quant(p, 0))
        return false;
    float in_s = x->quant.scale[0], out_s = out->quant.scale[0];
    int32_t in_zp = x->quant.zero_point[0];
    const detc_dtype_info *info = detc_dtype_get(x->dtype);
    d->lo = (int32_t)info->qmin;
    d->hi = (int32_t)info->qmax;
    d->out_zp = out->quant.zero_point[0];
    d->same_q = in_s == out_s && in_zp == d->out_zp;
    d->global_hw = keep && x->rank == 4 && reduced[1] && reduced[2] && !reduced[0] && !reduced[3];
    if (d->global_hw && x->dtype == DETC_I8) {
        if (!detc_qmul_from_double((double)in_s / (double)out_s, &d->mul)) {
            detc_prep_error(p, DETC_ERR_QUANT, "input scale %g / output scale %g cannot be a fixed-point "
                            "multiplier; fix the output '%s' quantization", in_s, out_s, out->name);
            return false;
        }
        d->in_zp = in_zp;
    } else if (d->global_hw) {
        float elements = (float)(x->dims[1] * x->dims[2]);
        float real = in_s / (elements * out_s);
        d->bias = d->out_zp - (int32_t)((float)in_zp * in_s / out_s);
        if (!detc_qmul_from_double((double)real, &d->mul)) {
            detc_prep_error(p, DETC_ERR_QUANT, "input scale %g / (%g elements x output scale %g) cannot be a "
                            "fixed-point multiplier; fix the output '%s' quantization", in_s, elements, out_s,
                            out->name);
            return false;
        }
    }
    d->s = in_s / out_s;
    d->zs = (float)in_zp * d->s;
    p->node->scratch_bytes = (size_t)detc_tensor_count(out) * sizeof(int32_t);
    return true;
}

static int32_t read_q(const detc_tensor *t, int64_t i)
{
    return t->dtype == DETC_U8 ? (int32_t)((const uint8_t *)t->data)[i] : (int32_t)((const int8_t *)t->data)[i];
}

static void mean_quantized(const detc_exec *x, const detc_node *node, const mean_data *d)
{
    const detc_tensor *in = detc_in(x->g, node, 0), *out = detc_out(x->g, node, 0);
    int32_t *sum = x->scratch;
    int64_t n = detc_tensor_count(in), n_out = detc_tensor_count(out);
    memset(sum, 0, (size_t)n_out * sizeof *sum);
    int32_t idx[DETC_MAX_RANK] = {0};
    int64_t o = 0;
    int32_t zp = d->global_hw && d->dtype == DETC_I8 ? d->in_zp : 0;
    for (int64_t i = 0; i < n; i++) {
        sum[o] += read_q(in, i) - zp;
        for (int a = d->rank - 1; a >= 0; a--) {
            o += d->out_stride[a];
            if (++idx[a] < d->in_dims[a])
                break;
            o -= d->out_stride[a] * d->in_dims[a];
            idx[a] = 0;
        }
    }
    for (int64_t i = 0; i < n_out; i++) {
        int32_t v;
        int32_t cnt = (int32_t)d->count;
        if (d->global_hw && d->dtype == DETC_I8) {
            v = detc_qmul_apply(sum[i], d->mul);
            v = (v > 0 ? v + cnt / 2 : v - cnt / 2) / cnt + d->out_zp;
        } else if (d->global_hw) {
            v = detc_qmul_apply(sum[i], d->mul) + d->bias;
        } else if (d->same_q) {
            v = sum[i] / cnt; /* C division truncates, as TFLite's integer reference Mean */
        } else {
            float mean = (float)sum[i] / (float)d->count;
            v = (int32_t)roundf(mean * d->s - d->zs) + d->out_zp;
        }
        v = v < d->lo ? d->lo : (v > d->hi ? d->hi : v);
        if (d->dtype == DETC_U8)
            ((uint8_t *)out->data)[i] = (uint8_t)v;
        else
            ((int8_t *)out->data)[i] = (int8_t)v;
    }
}

static detc_code mean_eval(const detc_exec *x, detc_node *node)
{
    const mean_data *d = node->op_data;
    if (d->dtype != DETC_F32) {
        mean_quantized(x, node, d);
        return DETC_OK;
    }
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
