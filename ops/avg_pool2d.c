/* avg_pool2d: NHWC input [N,H,W,C], window `kernel` [kh, kw] with stride, dilation and padding; output
 * [N,OH,OW,C] holds the mean under each window.
 *
 * Divisor: by default the number of window positions inside the input (padding excluded), as TensorFlow
 * and ONNX's default count_include_pad = 0; with `count_include_pad: true` every window position counts,
 * padded ones as real 0 (ONNX count_include_pad = 1, Caffe, PyTorch's default).
 *
 * f32: sum in window order (rows, then columns), divided by the count, clamped to the activation range.
 * u8/i8: TensorFlow Lite's AVERAGE_POOL_2D: the output has x's quantization, the raw values are summed
 * in int32 and divided rounding half away from zero ((acc + n/2) / n for u8, sign-aware for i8), then
 * clamped to the activation range in the quantized domain. With count_include_pad a padded position adds
 * the zero point (real 0). */
#include <stdlib.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

#define POOL_MIN_ROWS_PER_PART 2
/* Channels accumulated together in int32 (a stack array, so eval needs no scratch). */
#define POOL_BLOCK 64

typedef struct {
    int batch, in_h, in_w, c, k_h, k_w;
    op_window win;
    bool include_pad;
    detc_dtype dtype;
    float act_lo, act_hi;
    int32_t q_lo, q_hi, zp;
} avgpool_data;

static void valid_taps(int o, int stride, int pad, int dil, int k, int in, int *t0, int *t1)
{
    int start = o * stride - pad;
    int lo = start < 0 ? (-start + dil - 1) / dil : 0;
    int hi = in - start <= 0 ? 0 : (in - start + dil - 1) / dil;
    *t0 = lo;
    *t1 = hi < k ? hi : k;
}

static bool check_windows_reach_input(detc_prep *p, const avgpool_data *d)
{
    const op_window *w = &d->win;
    for (int axis = 0; axis < 2; axis++) {
        int n_out = axis ? w->out_w : w->out_h, in = axis ? d->in_w : d->in_h;
        int stride = axis ? w->stride_w : w->stride_h, dil = axis ? w->dil_w : w->dil_h;
        int pad = axis ? w->pads.left : w->pads.top, k = axis ? d->k_w : d->k_h;
        for (int o = 0; o < n_out; o++) {
            int t0, t1;
            valid_taps(o, stride, pad, dil, k, in, &t0, &t1);
            if (t0 >= t1) {
                detc_prep_error(p, DETC_ERR_SHAPE,
                                "the window of output %s %d lies entirely in the padding (padding [%d, %d, %d, %d], "
                                "kernel %dx%d, input %dx%d), so it averages nothing; fix: use padding smaller than "
                                "the kernel",
                                axis ? "column" : "row", o, w->pads.top, w->pads.left, w->pads.bottom,
                                w->pads.right, d->k_h, d->k_w, d->in_h, d->in_w);
                return false;
            }
        }
    }
    return true;
}

static bool avgpool_prepare(detc_prep *p)
{
    avgpool_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    ok = op_parse_window_attrs(p, &d->win) && ok;
    int64_t kernel[2] = {1, 1};
    ok = detc_attr_ints(p, "kernel", true, 2, 2, NULL, 1, 1024, kernel, NULL) && ok;
    ok = detc_attr_bool(p, "count_include_pad", false, &d->include_pad) && ok;
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "avg_pool2d takes f32, or quantized u8/i8; cast the input first") &&
         ok;
    ok = detc_prep_rank(p, 0, 4, 4) && ok;
    bool quantized = x->dtype != DETC_F32;
    if (quantized && ok)
        ok = op_require_per_tensor_quant(p, 0, "input");
    if (!ok)
        return false;
    d->batch = x->dims[0];
    d->in_h = x->dims[1];
    d->in_w = x->dims[2];
    d->c = x->dims[3];
    d->k_h = (int)kernel[0];
    d->k_w = (int)kernel[1];
    d->dtype = x->dtype;
    if ((int64_t)d->k_h * d->k_w > (1 << 20)) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "the %dx%d window holds more than 2^20 positions, whose int32 sum could overflow; split the "
                        "pooling into two smaller ones",
                        d->k_h, d->k_w);
        return false;
    }
    if (!op_parse_window_padding(p, d->in_h, d->in_w, d->k_h, d->k_w, &d->win) || !check_windows_reach_input(p, d))
        return false;
    int32_t dims[4] = {d->batch, d->win.out_h, d->win.out_w, d->c};
    if (!detc_prep_set_output(p, 0, x->dtype, 4, dims, quantized ? &x->quant : NULL, false))
        return false;
    detc_activation_range_f(d->win.act, &d->act_lo, &d->act_hi);
    if (quantized) {
        detc_activation_range_q(d->win.act, detc_out(p->g, p->node, 0), &d->q_lo, &d->q_hi);
        d->zp = x->quant.zero_point[0];
    }
    return true;
}

/* ---------------- eval ---------------- */

typedef struct {
    const avgpool_data *d;
    const uint8_t *x;
    uint8_t *out;
    int rows, parts;
} avgpool_job;

static void row_f32(const avgpool_data *d, const float *x, float *out, int n, int oy)
{
    const op_window *w = &d->win;
    int ky0, ky1, C = d->c;
    valid_taps(oy, w->stride_h, w->pads.top, w->dil_h, d->k_h, d->in_h, &ky0, &ky1);
    for (int ox = 0; ox < w->out_w; ox++) {
        int kx0, kx1;
        valid_taps(ox, w->stride_w, w->pads.left, w->dil_w, d->k_w, d->in_w, &kx0, &kx1);
        float *o = out + (((size_t)n * w->out_h + (size_t)oy) * (size_t)w->out_w + (size_t)ox) * (size_t)C;
        for (int c = 0; c < C; c++)
            o[c] = 0.0f;
        for (int ky = ky0; ky < ky1; ky++) {
            int iy = oy * w->stride_h - w->pads.top + ky * w->dil_h;
            for (int kx = kx0; kx < kx1; kx++) {
                int ix = ox * w->stride_w - w->pads.left + kx * w->dil_w;
                const float *in = x + (((size_t)n * d->in_h + (size_t)iy) * (size_t)d->in_w + (size_t)ix) * C;
                for (int c = 0; c < C; c++)
                    o[c] += in[c];
            }
        }
        float count = d->include_pad ? (float)(d->k_h * d->k_w) : (float)((ky1 - ky0) * (kx1 - kx0));
        for (int c = 0; c < C; c++) {
            float v = o[c] / count;
            v = v < d->act_lo ? d->act_lo : v;
            o[c] = v > d->act_hi ? d->act_hi : v;
        }
    }
}

static void row_quant(const avgpool_data *d, const uint8_t *x, uint8_t *out, int n, int oy)
{
    const op_window *w = &d->win;
    bool is_signed = d->dtype == DETC_I8;
    int ky0, ky1, C = d->c;
    valid_taps(oy, w->stride_h, w->pads.top, w->dil_h, d->k_h, d->in_h, &ky0, &ky1);
    for (int ox = 0; ox < w->out_w; ox++) {
        int kx0, kx1;
        valid_taps(ox, w->stride_w, w->pads.left, w->dil_w, d->k_w, d->in_w, &kx0, &kx1);
        int valid = (ky1 - ky0) * (kx1 - kx0);
        int count = d->include_pad ? d->k_h * d->k_w : valid;
        int32_t pad_sum = (count - valid) * d->zp;
        uint8_t *o = out + (((size_t)n * w->out_h + (size_t)oy) * (size_t)w->out_w + (size_t)ox) * (size_t)C;
        for (int c0 = 0; c0 < C; c0 += POOL_BLOCK) {
            int nc = C - c0 < POOL_BLOCK ? C - c0 : POOL_BLOCK;
            int32_t acc[POOL_BLOCK];
            for (int c = 0; c < nc; c++)
                acc[c] = pad_sum;
            for (int ky = ky0; ky < ky1; ky++) {
                int iy = oy * w->stride_h - w->pads.top + ky * w->dil_h;
                for (int kx = kx0; kx < kx1; kx++) {
                    int ix = ox * w->stride_w - w->pads.left + kx * w->dil_w;
                    const uint8_t *in =
                        x + (((size_t)n * d->in_h + (size_t)iy) * (size_t)d->in_w + (size_t)ix) * C + c0;
                    if (is_signed)
                        for (int c = 0; c < nc; c++)
                            acc[c] += (int8_t)in[c];
                    else
                        for (int c = 0; c < nc; c++)
                            acc[c] += in[c];
                }
            }
            for (int c = 0; c < nc; c++) {
                int32_t a = acc[c];
                int32_t v = a >= 0 ? (a + count / 2) / count : (a - count / 2) / count;
                v = v < d->q_lo ? d->q_lo : (v > d->q_hi ? d->q_hi : v);
                o[c0 + c] = is_signed ? (uint8_t)(int8_t)v : (uint8_t)v;
            }
        }
    }
}

static void run_parts(void *ctx, int begin, int end)
{
    const avgpool_job *j = ctx;
    const avgpool_data *d = j->d;
    for (int part = begin; part < end; part++) {
        int r0 = (int)((int64_t)j->rows * part / j->parts), r1 = (int)((int64_t)j->rows * (part + 1) / j->parts);
        for (int r = r0; r < r1; r++) {
            int n = r / d->win.out_h, oy = r % d->win.out_h;
            if (d->dtype == DETC_F32)
                row_f32(d, (const float *)j->x, (float *)j->out, n, oy);
            else
                row_quant(d, j->x, j->out, n, oy);
        }
    }
}

static detc_code avgpool_eval(const detc_exec *x, detc_node *node)
{
    const avgpool_data *d = node->op_data;
    avgpool_job j = {.d = d, .x = detc_in(x->g, node, 0)->data, .out = detc_out(x->g, node, 0)->data,
                     .rows = d->batch * d->win.out_h};
    j.parts = op_parts(x, j.rows, POOL_MIN_ROWS_PER_PART);
    detc_parallel_for(x->pool, j.parts, 1, run_parts, &j);
    return DETC_OK;
}

const detc_op detc_op_avg_pool2d = {
    .name = "avg_pool2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = avgpool_prepare,
    .eval = avgpool_eval,
};
