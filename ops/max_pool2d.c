/* max_pool2d: NHWC input [N,H,W,C], window `kernel` [kh, kw] with stride, dilation and padding; output
 * [N,OH,OW,C] holds the largest value under each window. Padded positions never take part (TensorFlow's
 * and ONNX's semantics), so a window must reach at least one input pixel; prepare refuses padding that
 * leaves a window entirely outside the input.
 *
 * f32: then clamped to the fused activation range.
 * u8/i8: the output has x's quantization (the max of quantized values is the quantized max, as TFLite's
 * MAX_POOL_2D requires equal parameters); the activation clamp is applied in the quantized domain. u8/i8
 * without quantization are plain integers and work the same way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

#define POOL_MIN_ROWS_PER_PART 2

typedef struct {
    int batch, in_h, in_w, c, k_h, k_w;
    op_window win;
    detc_dtype dtype;
    float act_lo, act_hi;
    int32_t q_lo, q_hi;
} maxpool_data;

/* Valid taps [t0, t1) of a window starting at o*stride - pad over an input of size `in`. */
static void valid_taps(int o, int stride, int pad, int dil, int k, int in, int *t0, int *t1)
{
    int start = o * stride - pad;
    int lo = start < 0 ? (-start + dil - 1) / dil : 0;
    int hi = in - start <= 0 ? 0 : (in - start + dil - 1) / dil;
    *t0 = lo;
    *t1 = hi < k ? hi : k;
}

/* Reports the first output row or column whose window lies entirely in the padding. */
static bool check_windows_reach_input(detc_prep *p, const maxpool_data *d)
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
                                "kernel %dx%d, input %dx%d), so it has no value to take; fix: use padding smaller "
                                "than the kernel",
                                axis ? "column" : "row", o, w->pads.top, w->pads.left, w->pads.bottom,
                                w->pads.right, d->k_h, d->k_w, d->in_h, d->in_w);
                return false;
            }
        }
    }
    return true;
}

static bool maxpool_prepare(detc_prep *p)
{
    maxpool_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    ok = op_parse_window_attrs(p, &d->win) && ok;
    int64_t kernel[2] = {1, 1};
    ok = detc_attr_ints(p, "kernel", true, 2, 2, NULL, 1, 1024, kernel, NULL) && ok;
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "max_pool2d takes f32, u8 or i8; cast the input first") &&
         ok;
    ok = detc_prep_rank(p, 0, 4, 4) && ok;
    bool quantized = detc_tensor_is_quantized(x);
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
    if (!op_parse_window_padding(p, d->in_h, d->in_w, d->k_h, d->k_w, &d->win) || !check_windows_reach_input(p, d))
        return false;
    int32_t dims[4] = {d->batch, d->win.out_h, d->win.out_w, d->c};
    if (!detc_prep_set_output(p, 0, x->dtype, 4, dims, quantized ? &x->quant : NULL, false))
        return false;
    detc_activation_range_f(d->win.act, &d->act_lo, &d->act_hi);
    if (x->dtype != DETC_F32)
        detc_activation_range_q(d->win.act, detc_out(p->g, p->node, 0), &d->q_lo, &d->q_hi);
    return true;
}

/* ---------------- eval ---------------- */

typedef struct {
    const maxpool_data *d;
    const uint8_t *x;
    uint8_t *out;
    int rows, parts; /* rows = N * OH */
} maxpool_job;

/* The channel loops in blocks of POOL_BLOCK with a constant trip count and restrict pointers, which gcc and
 * clang vectorize at -O2 (gcc's cheap cost model refuses loops that need an epilogue or an alias check). */
#define POOL_BLOCK 32

#define DEFINE_POOL_LOOPS(SUFFIX, T)                                                                               \
    static inline void max_into_##SUFFIX(T *restrict o, const T *restrict in, int C)                               \
    {                                                                                                              \
        int c = 0;                                                                                                 \
        for (; c + POOL_BLOCK <= C; c += POOL_BLOCK)                                                               \
            for (int k = 0; k < POOL_BLOCK; k++)                                                                   \
                o[c + k] = in[c + k] > o[c + k] ? in[c + k] : o[c + k];                                            \
        for (; c < C; c++)                                                                                         \
            o[c] = in[c] > o[c] ? in[c] : o[c];                                                                    \
    }                                                                                                              \
    static inline void clamp_##SUFFIX(T *restrict o, int C, T lo, T hi)                                            \
    {                                                                                                              \
        int c = 0;                                                                                                 \
        for (; c + POOL_BLOCK <= C; c += POOL_BLOCK)                                                               \
            for (int k = 0; k < POOL_BLOCK; k++)                                                                   \
                o[c + k] = o[c + k] < lo ? lo : (o[c + k] > hi ? hi : o[c + k]);                                   \
        for (; c < C; c++)                                                                                         \
            o[c] = o[c] < lo ? lo : (o[c] > hi ? hi : o[c]);                                                       \
    }

DEFINE_POOL_LOOPS(f32, float)
DEFINE_POOL_LOOPS(u8, uint8_t)
DEFINE_POOL_LOOPS(i8, int8_t)

#define DEFINE_POOL_ROW(NAME, SUFFIX, T, LO, HI)                                                                         \
    static void NAME(const maxpool_data *d, const T *x, T *out, int n, int oy)                                     \
    {                                                                                                              \
        const op_window *w = &d->win;                                                                              \
        int ky0, ky1, C = d->c;                                                                                    \
        valid_taps(oy, w->stride_h, w->pads.top, w->dil_h, d->k_h, d->in_h, &ky0, &ky1);                           \
        for (int ox = 0; ox < w->out_w; ox++) {                                                                    \
            int kx0, kx1;                                                                                          \
            valid_taps(ox, w->stride_w, w->pads.left, w->dil_w, d->k_w, d->in_w, &kx0, &kx1);                      \
            T *o = out + ((((size_t)n * w->out_h + (size_t)oy) * (size_t)w->out_w) + (size_t)ox) * (size_t)C;      \
            bool first = true;                                                                                     \
            for (int ky = ky0; ky < ky1; ky++) {                                                                   \
                int iy = oy * w->stride_h - w->pads.top + ky * w->dil_h;                                           \
                for (int kx = kx0; kx < kx1; kx++) {                                                               \
                    int ix = ox * w->stride_w - w->pads.left + kx * w->dil_w;                                      \
                    const T *in = x + ((((size_t)n * d->in_h + (size_t)iy) * (size_t)d->in_w) + (size_t)ix) * C;   \
                    if (first)                                                                                     \
                        memcpy(o, in, (size_t)C * sizeof(T));                                                      \
                    else                                                                                           \
                        max_into_##SUFFIX(o, in, C);                                                               \
                    first = false;                                                                                 \
                }                                                                                                  \
            }                                                                                                      \
            clamp_##SUFFIX(o, C, (T)(LO), (T)(HI));                                                                \
        }                                                                                                          \
    }

DEFINE_POOL_ROW(row_f32, f32, float, d->act_lo, d->act_hi)
DEFINE_POOL_ROW(row_u8, u8, uint8_t, d->q_lo, d->q_hi)
DEFINE_POOL_ROW(row_i8, i8, int8_t, d->q_lo, d->q_hi)

static void run_parts(void *ctx, int begin, int end)
{
    const maxpool_job *j = ctx;
    const maxpool_data *d = j->d;
    for (int part = begin; part < end; part++) {
        int r0 = (int)((int64_t)j->rows * part / j->parts), r1 = (int)((int64_t)j->rows * (part + 1) / j->parts);
        for (int r = r0; r < r1; r++) {
            int n = r / d->win.out_h, oy = r % d->win.out_h;
            if (d->dtype == DETC_F32)
                row_f32(d, (const float *)j->x, (float *)j->out, n, oy);
            else if (d->dtype == DETC_U8)
                row_u8(d, j->x, j->out, n, oy);
            else
                row_i8(d, (const int8_t *)j->x, (int8_t *)j->out, n, oy);
        }
    }
}

static detc_code maxpool_eval(const detc_exec *x, detc_node *node)
{
    const maxpool_data *d = node->op_data;
    maxpool_job j = {.d = d, .x = detc_in(x->g, node, 0)->data, .out = detc_out(x->g, node, 0)->data,
                     .rows = d->batch * d->win.out_h};
    j.parts = op_parts(x, j.rows, POOL_MIN_ROWS_PER_PART);
    detc_parallel_for(x->pool, j.parts, 1, run_parts, &j);
    return DETC_OK;
}

const detc_op detc_op_max_pool2d = {
    .name = "max_pool2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = maxpool_prepare,
    .eval = maxpool_eval,
};
