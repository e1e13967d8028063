/* depthwise_conv2d: NHWC input [N,H,W,C], filter [1,KH,KW,C*M], optional bias [C*M]; output channel
 * c*M + m reads input channel c. f32, u8 per-tensor and i8 per-channel with TFLite's arithmetic:
 *   acc = bias + sum((x - xz) * (w - wz)),  out = clamp(MultiplyByQuantizedMultiplier(acc) + oz).
 * Taps that fall into the padding contribute nothing (the padding is real 0, i.e. x == xz).
 *
 * Quantized with depth multiplier 1 (every MobileNet): the kernel table's dwconv_q8, vectorized across
 * channels. Prepare folds the input zero point into the bias (bias - xz * sum(w - wz), checked to fit in
 * int32) and packs the filter in tap pairs; eval gives the kernel one pointer per tap and output pixel
 * (an indirection buffer) at a row's edges, padding taps pointing at a row of xz, whose products the folded
 * bias cancels exactly, and a row's interior (every tap inside the input) as one run to dwconv_q8_run: the
 * first pixel's taps and the step, not ~10 pointers per pixel written and read again. Other multipliers
 * take the per-pixel loop below.
 *
 * f32 with depth multiplier 1 (MobileNet, BlazeFace): the kernel table's dwconv_f32 and dwconv_f32_run on
 * the same edges and interiors, padding taps pointing at a row of zeros, the filter tensor read as it is
 * ([1,KH,KW,C] is the kernel's [taps][C]). It sums the taps in the per-pixel loop's order (adding 0 for a padding tap), so the
 * SIMD variants differ from that loop only by FMA rounding (within 1e-5 of sum |x*w| + |bias|, checked by
 * tests/test_kernels.c; tests/test_ssd_float.py and test_blazeface.py hold whole models to their
 * references). Other multipliers take the per-pixel loop. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

/* Output channels accumulated together for one pixel (a stack array, so eval needs no scratch). */
#define DW_BLOCK 64
#define DW_MIN_ROWS_PER_PART 2
/* ... and this many multiply-adds per part (see conv2d.c: a hand-off costs more than a small layer). A
 * depthwise conv runs at a fifth of a GEMM's rate, so a part of 2^17 (SSD's 10x10 maps: 345K and 691K MACs)
 * takes several microseconds, more than the hand-off to a spinning worker; splitting them also keeps each
 * core reading the rows its own core wrote. SSD at 2 threads, depthwise total (interleaved medians): f32
 * 0.94 -> 0.89 ms, uint8 1.36 -> 1.26 ms with 2^17 instead of 2^19. */
#define DW_MIN_MACS_PER_PART (1 << 17)

typedef struct {
    int batch, in_h, in_w, in_c, mult, out_c, k_h, k_w;
    op_window win;
    detc_dtype dtype;
    float act_lo, act_hi;
    op_requant rq;
    int16_t *w_centered; /* quantized: w - wz, [KH*KW*out_c] */
    /* Quantized, multiplier 1: dwconv_q8's parameters and arrays, and an input row (in_w * C bytes) of the
     * input zero point: the padding's taps, and the rows of a window that reaches the top or bottom padding. */
    bool fast;
    detc_dwconv_q8_params kp;
    uint8_t *zero_row;
    /* f32, multiplier 1: dwconv_f32, with an input row of zeros for the padding (and C for the bias when there
     * is none). */
    bool fast_f32;
    float *zero_f32;
} dw_data;

static void dw_release(void *op_data)
{
    dw_data *d = op_data;
    if (!d)
        return;
    op_requant_free(&d->rq);
    free(d->w_centered);
    free((void *)d->kp.w);
    free((void *)d->kp.bias);
    free(d->zero_row);
    free(d->zero_f32);
    free(d);
}

/* ---------------- prepare ---------------- */

static bool check_operands(detc_prep *p, bool *quantized)
{
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1), *b = detc_prep_in(p, 2);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_require_input(p, 1, "filter") && ok;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "convert the model to f32, or quantize it to u8 (per-tensor) or i8 (per-channel)") &&
         ok;
    ok = detc_prep_rank(p, 0, 4, 4) && ok;
    *quantized = x->dtype == DETC_U8 || x->dtype == DETC_I8;
    bool x_dtype_ok = x->dtype == DETC_F32 || *quantized;
    if (w && x_dtype_ok) {
        const char *fix = x->dtype == DETC_F32 ? "give an f32 input an f32 filter (dequantize the weights when converting)"
                          : x->dtype == DETC_U8 ? "quantize the filter to u8 per tensor, like the input"
                                                : "quantize the filter to i8 (per-channel on axis 3, zero point 0), "
                                                  "like the input";
        ok = detc_prep_dtype(p, 1, DETC_MASK(x->dtype), fix) && ok;
    }
    ok = detc_prep_rank(p, 1, 4, 4) && ok;
    if (b && x_dtype_ok) {
        ok = detc_prep_dtype(p, 2, DETC_MASK(*quantized ? DETC_I32 : DETC_F32),
                             *quantized ? "quantize the bias to i32 with scale = input scale x filter scale"
                                        : "give an f32 depthwise conv an f32 bias") &&
             ok;
        ok = detc_prep_rank(p, 2, 1, 1) && ok;
    }
    if (*quantized) {
        ok = detc_prep_constant(p, 1, "it is re-centred on its zero point once") && ok;
        ok = detc_prep_constant(p, 2, "it is read once at load") && ok;
    }
    return ok;
}

static bool check_shapes(detc_prep *p, int64_t mult)
{
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1), *b = detc_prep_in(p, 2);
    char xs[128], ws[128];
    detc_shape_str(x->rank, x->dims, xs, sizeof xs);
    detc_shape_str(w->rank, w->dims, ws, sizeof ws);
    for (int i = 0; i < 4; i++)
        if (x->dims[i] < 1 || w->dims[i] < 1) {
            detc_prep_error(p, DETC_ERR_SHAPE, "input %s and filter %s must have positive dimensions", xs, ws);
            return false;
        }
    bool ok = true;
    if (w->dims[0] != 1) {
        detc_prep_error(p, DETC_ERR_SHAPE, "filter %s must be [1, kernel_h, kernel_w, channels x multiplier]", ws);
        ok = false;
    }
    if ((int64_t)w->dims[3] != (int64_t)x->dims[3] * mult) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "filter %s has %d output channels, expected input channels (%d) x depth_multiplier (%lld) "
                        "= %lld; fix the filter or the depth_multiplier attribute",
                        ws, (int)w->dims[3], (int)x->dims[3], (long long)mult, (long long)x->dims[3] * mult);
        ok = false;
    }
    if (b && b->rank == 1 && b->dims[0] != w->dims[3]) {
        detc_prep_error(p, DETC_ERR_SHAPE, "bias has %d entries, expected %d (the filter's channels)",
                        (int)b->dims[0], (int)w->dims[3]);
        ok = false;
    }
    return ok;
}

/* Taps per output pixel the indirection buffer holds at most (eval keeps it on the stack): the kernel table's
 * limit for the run entries' first-pixel taps. */
#define DW_MAX_PTRS DETC_DW_RUN_MAX_PTRS

/* dwconv_q8's packed filter, folded bias and requantization arrays. Leaves d->fast false (the per-pixel
 * loop) for depth multipliers above 1, very large kernels, or a folded bias outside int32. */
static bool prepare_fast(detc_prep *p, dw_data *d)
{
    int C = d->out_c, taps = d->k_h * d->k_w, P = (taps + 1) / 2;
    if (d->mult != 1 || 2 * P > DW_MAX_PTRS)
        return true;
    int16_t *w = calloc((size_t)P * C * 2, sizeof *w);
    int32_t *bias = malloc((size_t)C * sizeof *bias);
    bool split = op_requant_split(&d->rq);
    d->zero_row = malloc((size_t)d->in_w * C);
    d->kp = (detc_dwconv_q8_params){.channels = C,
                                    .tap_pairs = P,
                                    .is_signed = d->dtype == DETC_I8,
                                    .w = w,
                                    .bias = bias,
                                    .mult = d->rq.mult,
                                    .lshift = d->rq.lshift,
                                    .rshift = d->rq.rshift,
                                    .out_zp = d->rq.out_zp,
                                    .act_min = d->rq.act_min,
                                    .act_max = d->rq.act_max};
    if (split) /* the float requantization, for the SIMD kernels: one scale, and exact (op_util.h) */
        d->kp.frq = op_requant_float(&d->rq, false, &d->kp.frq_scale, &d->kp.frq_offset);
    if (!w || !bias || !split || !d->zero_row) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    memset(d->zero_row, (uint8_t)d->rq.x_zp, (size_t)d->in_w * C);
    for (int c = 0; c < C; c++) {
        int64_t sum = 0;
        for (int t = 0; t < taps; t++) {
            int16_t v = d->w_centered[(int64_t)t * C + c];
            w[((int64_t)(t / 2) * C + c) * 2 + t % 2] = v;
            sum += v;
        }
        /* (The kernels wrap, so even a folded bias outside int32 would give TFLite's sum whenever that fits;
         * refusing it keeps the fast path within plain int32 arithmetic.) */
        int64_t folded = (int64_t)d->rq.bias[c] - (int64_t)d->rq.x_zp * sum;
        if (folded < INT32_MIN || folded > INT32_MAX)
            return true;
        bias[c] = (int32_t)folded;
    }
    d->fast = true;
    free(d->w_centered); /* only the per-pixel loop reads it */
    d->w_centered = NULL;
    return true;
}

static bool prepare_quantized(detc_prep *p, dw_data *d)
{
    if (!op_requant_prepare(p, d->out_c, 3, d->win.act, &d->rq))
        return false;
    const detc_tensor *w = detc_prep_in(p, 1);
    int64_t n = (int64_t)d->k_h * d->k_w * d->out_c;
    d->w_centered = malloc((size_t)n * sizeof *d->w_centered);
    if (!d->w_centered) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t v = d->dtype == DETC_U8 ? ((const uint8_t *)w->data)[i] : ((const int8_t *)w->data)[i];
        d->w_centered[i] = (int16_t)(v - d->rq.w_zp[i % d->out_c]);
    }
    return prepare_fast(p, d);
}

static bool dw_prepare(detc_prep *p)
{
    bool quantized = false;
    int64_t mult = 1;
    dw_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    bool attrs_ok = op_parse_window_attrs(p, &d->win);
    attrs_ok = detc_attr_int(p, "depth_multiplier", false, 1, 1, 65536, &mult) && attrs_ok;
    if (!check_operands(p, &quantized) || !attrs_ok || !check_shapes(p, mult))
        return false;
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1);
    if (!op_parse_window_padding(p, x->dims[1], x->dims[2], w->dims[1], w->dims[2], &d->win))
        return false;
    d->batch = x->dims[0];
    d->in_h = x->dims[1];
    d->in_w = x->dims[2];
    d->in_c = x->dims[3];
    d->mult = (int)mult;
    d->out_c = w->dims[3];
    d->k_h = w->dims[1];
    d->k_w = w->dims[2];
    d->dtype = x->dtype;
    int32_t dims[4] = {d->batch, d->win.out_h, d->win.out_w, d->out_c};
    bool ok = detc_prep_set_output(p, 0, d->dtype, 4, dims, NULL, quantized);
    if (quantized)
        ok = prepare_quantized(p, d) && ok; /* also reports quantization problems when the output was refused */
    if (!ok)
        return false;
    if (!quantized && d->mult == 1 && d->k_h * d->k_w <= DW_MAX_PTRS) {
        d->zero_f32 = calloc((size_t)d->in_w * d->out_c, sizeof *d->zero_f32);
        if (!d->zero_f32) {
            detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
            return false;
        }
        d->fast_f32 = true;
    }
    detc_activation_range_f(d->win.act, &d->act_lo, &d->act_hi);
    return true;
}

/* ---------------- eval ---------------- */

typedef struct {
    const dw_data *d;
    const detc_kernels *kernels;
    const void *x;
    const void *w;
    const void *bias;
    void *out;
} dw_job;

/* First and one-past-last kernel taps of one axis that land inside the input. */
static void valid_taps(int o, int stride, int pad, int dil, int k, int in, int *t0, int *t1)
{
    int start = o * stride - pad;
    *t0 = 0;
    while (*t0 < k && start + *t0 * dil < 0)
        (*t0)++;
    *t1 = k;
    while (*t1 > *t0 && start + (*t1 - 1) * dil >= in)
        (*t1)--;
}

static void pixel_f32(const dw_job *j, int n, int oy, int ox, int ky0, int ky1, int kx0, int kx1)
{
    const dw_data *d = j->d;
    const float *x = j->x, *w = j->w, *bias = j->bias;
    float *out = (float *)j->out + (((int64_t)n * d->win.out_h + oy) * d->win.out_w + ox) * d->out_c;
    int iy0 = oy * d->win.stride_h - d->win.pads.top, ix0 = ox * d->win.stride_w - d->win.pads.left;
    for (int c0 = 0; c0 < d->out_c; c0 += DW_BLOCK) {
        int nb = d->out_c - c0 < DW_BLOCK ? d->out_c - c0 : DW_BLOCK;
        float acc[DW_BLOCK] = {0};
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) {
                int64_t iy = iy0 + ky * d->win.dil_h, ix = ix0 + kx * d->win.dil_w;
                const float *xp = x + ((n * (int64_t)d->in_h + iy) * d->in_w + ix) * d->in_c;
                const float *wp = w + ((int64_t)ky * d->k_w + kx) * d->out_c + c0;
                for (int i = 0; i < nb; i++)
                    acc[i] += xp[(c0 + i) / d->mult] * wp[i];
            }
        for (int i = 0; i < nb; i++) {
            float v = acc[i] + (bias ? bias[c0 + i] : 0.0f);
            v = v < d->act_lo ? d->act_lo : v;
            out[c0 + i] = v > d->act_hi ? d->act_hi : v;
        }
    }
}

static void pixel_quant(const dw_job *j, int n, int oy, int ox, int ky0, int ky1, int kx0, int kx1)
{
    const dw_data *d = j->d;
    bool is_signed = d->dtype == DETC_I8;
    const uint8_t *x = j->x;
    uint8_t *out = (uint8_t *)j->out + (((int64_t)n * d->win.out_h + oy) * d->win.out_w + ox) * d->out_c;
    int iy0 = oy * d->win.stride_h - d->win.pads.top, ix0 = ox * d->win.stride_w - d->win.pads.left;
    int32_t xz = d->rq.x_zp;
    for (int c0 = 0; c0 < d->out_c; c0 += DW_BLOCK) {
        int nb = d->out_c - c0 < DW_BLOCK ? d->out_c - c0 : DW_BLOCK;
        int32_t acc[DW_BLOCK];
        memcpy(acc, d->rq.bias + c0, (size_t)nb * sizeof *acc);
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) {
                int64_t iy = iy0 + ky * d->win.dil_h, ix = ix0 + kx * d->win.dil_w;
                const uint8_t *xp = x + ((n * (int64_t)d->in_h + iy) * d->in_w + ix) * d->in_c;
                const int16_t *wp = d->w_centered + ((int64_t)ky * d->k_w + kx) * d->out_c + c0;
                for (int i = 0; i < nb; i++) {
                    uint8_t raw = xp[(c0 + i) / d->mult];
                    int32_t xv = is_signed ? (int32_t)(int8_t)raw : (int32_t)raw;
                    acc[i] += (xv - xz) * wp[i];
                }
            }
        for (int i = 0; i < nb; i++)
            out[c0 + i] = (uint8_t)op_requantize(acc[i], &d->rq, c0 + i);
    }
}

/* Output rows [r0, r1) (rows are (image, output row) pairs): in each row, the pixels whose taps all lie inside
 * the input rows (a row's interior, each pixel's taps the previous one's moved by stride * C elements) through
 * dwconv_q8_run / dwconv_f32_run, given the first pixel's taps and that step; the edge pixels through dwconv_q8 /
 * dwconv_f32 with a tap pointer each. A row's right edge and the next row's left edge are adjacent in the output,
 * so they go in one call (each call sets up every 16-channel block's constants again: on SSD's 19x19 maps a
 * 1-pixel call cost about 2.5 times a pixel inside a run), in chunks whose pointers fit the stack buffer. A kernel
 * row in the top or bottom padding reads the padding row (zero_row / zero_f32), so that those output rows'
 * interiors are runs too. Addresses are formed in bytes (es per element); f32 keeps them as float pointers. */
static void rows_fast(const dw_job *j, int r0, int r1)
{
    const dw_data *d = j->d;
    const bool f32 = d->fast_f32;
    const int C = d->out_c, kh = d->k_h, kw = d->k_w, taps = kh * kw, ptrs = f32 ? taps : 2 * d->kp.tap_pairs;
    const int chunk = DW_MAX_PTRS / ptrs, sw = d->win.stride_w, dw = d->win.dil_w, in_w = d->in_w;
    const int out_w = d->win.out_w, pl = d->win.pads.left;
    const int64_t es = f32 ? (int64_t)sizeof(float) : 1, row_bytes = (int64_t)in_w * C * es;
    const uint8_t *zero = f32 ? (const uint8_t *)d->zero_f32 : d->zero_row;
    union {
        const uint8_t *q[DW_MAX_PTRS];
        const float *f[DW_MAX_PTRS];
    } tp;
    detc_dwconv_f32_params kf = {0};
    if (f32)
        kf = (detc_dwconv_f32_params){.channels = C,
                                      .taps = taps,
                                      .w = j->w,
                                      .bias = j->bias ? j->bias : d->zero_f32,
                                      .act_lo = d->act_lo,
                                      .act_hi = d->act_hi};
    /* the interior [xa, xb): ox * sw - pl >= 0 and ox * sw - pl + (kw - 1) * dw <= in_w - 1 */
    const int64_t last = (int64_t)in_w - 1 + pl - (int64_t)(kw - 1) * dw;
    int xa = (pl + sw - 1) / sw, xb = last < 0 ? 0 : (int)(last / sw + 1 < out_w ? last / sw + 1 : out_w);
    if (xa > xb)
        xa = xb = out_w;
    /* edge pixels waiting for their call: cnt of them, outputs from pend_out on (k tap pointers in tp) */
    uint8_t *pend_out = NULL;
    int cnt = 0, k = 0;
#define DW_PUT(p) (f32 ? (void)(tp.f[k++] = (const float *)(const void *)(p)) : (void)(tp.q[k++] = (p)))
#define DW_FLUSH()                                                                                               \
    do {                                                                                                         \
        if (cnt && f32)                                                                                          \
            j->kernels->dwconv_f32(&kf, cnt, tp.f, (float *)(void *)pend_out);                                   \
        else if (cnt)                                                                                            \
            j->kernels->dwconv_q8(&d->kp, cnt, tp.q, pend_out);                                                  \
        cnt = k = 0;                                                                                             \
    } while (0)
    for (int r = r0; r < r1; r++) {
        const int n = r / d->win.out_h, oy = r % d->win.out_h;
        const uint8_t *x = (const uint8_t *)j->x + (int64_t)n * d->in_h * row_bytes;
        uint8_t *out = (uint8_t *)j->out + (int64_t)r * out_w * C * es;
        const uint8_t *rows[DW_MAX_PTRS]; /* per kernel row: the input row, or the padding row */
        const int iy0 = oy * d->win.stride_h - d->win.pads.top;
        for (int ky = 0; ky < kh; ky++) {
            int iy = iy0 + ky * d->win.dil_h;
            rows[ky] = iy >= 0 && iy < d->in_h ? x + (int64_t)iy * row_bytes : zero;
        }
        for (int ox = 0; ox < out_w; ox++) {
            if (ox == xa && xb > xa) { /* the interior: its first pixel's taps and the step */
                DW_FLUSH(); /* the right edge after it does not continue what waits */
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++)
                        DW_PUT(rows[ky] + ((int64_t)xa * sw - pl + (int64_t)kx * dw) * C * es);
                if (f32) {
                    j->kernels->dwconv_f32_run(&kf, xb - xa, tp.f, (ptrdiff_t)sw * C,
                                               (float *)(void *)(out + (int64_t)xa * C * es));
                } else {
                    if (taps % 2) /* the weight-0 tap that completes the last pair: any tap that moves with the run */
                        tp.q[k] = tp.q[k - 1];
                    j->kernels->dwconv_q8_run(&d->kp, xb - xa, tp.q, (ptrdiff_t)sw * C, out + (int64_t)xa * C);
                }
                k = 0;
                ox = xb - 1;
                continue;
            }
            if (cnt == chunk)
                DW_FLUSH();
            if (!cnt)
                pend_out = out + (int64_t)ox * C * es;
            const int ix0 = ox * sw - pl;
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++) {
                    int ix = ix0 + kx * dw;
                    DW_PUT(ix >= 0 && ix < in_w ? rows[ky] + (int64_t)ix * C * es : zero);
                }
            if (!f32 && taps % 2)
                DW_PUT(zero); /* the weight-0 tap that completes the last pair */
            cnt++;
        }
    }
    DW_FLUSH();
#undef DW_FLUSH
#undef DW_PUT
}

/* Rows are (image, output row) pairs. */
static void run_rows(void *ctx, int begin, int end)
{
    const dw_job *j = ctx;
    const dw_data *d = j->d;
    if (d->fast || d->fast_f32) {
        rows_fast(j, begin, end);
        return;
    }
    for (int r = begin; r < end; r++) {
        int n = r / d->win.out_h, oy = r % d->win.out_h;
        int ky0, ky1;
        valid_taps(oy, d->win.stride_h, d->win.pads.top, d->win.dil_h, d->k_h, d->in_h, &ky0, &ky1);
        for (int ox = 0; ox < d->win.out_w; ox++) {
            int kx0, kx1;
            valid_taps(ox, d->win.stride_w, d->win.pads.left, d->win.dil_w, d->k_w, d->in_w, &kx0, &kx1);
            if (d->dtype == DETC_F32)
                pixel_f32(j, n, oy, ox, ky0, ky1, kx0, kx1);
            else
                pixel_quant(j, n, oy, ox, ky0, ky1, kx0, kx1);
        }
    }
}

static detc_code dw_eval(const detc_exec *x, detc_node *node)
{
    const dw_data *d = node->op_data;
    const detc_tensor *b = detc_in(x->g, node, 2);
    dw_job j = {
        .d = d,
        .kernels = x->kernels,
        .x = detc_in(x->g, node, 0)->data,
        .w = detc_in(x->g, node, 1)->data,
        .bias = b ? b->data : NULL,
        .out = detc_out(x->g, node, 0)->data,
    };
    int rows = d->batch * d->win.out_h;
    int64_t macs_per_row = (int64_t)d->win.out_w * d->out_c * d->k_h * d->k_w;
    int64_t min_rows = DW_MIN_MACS_PER_PART / (macs_per_row > 0 ? macs_per_row : 1);
    int parts = op_parts(x, rows, min_rows > DW_MIN_ROWS_PER_PART ? min_rows : DW_MIN_ROWS_PER_PART);
    /* rows / parts: the pool makes n / min_chunk chunks (rounding down), so rounding up here gave 19 rows
     * in two parts of 10 one chunk */
    detc_parallel_for(x->pool, rows, rows / parts, run_rows, &j);
    return DETC_OK;
}

const detc_op detc_op_depthwise_conv2d = {
    .name = "depthwise_conv2d",
    .min_inputs = 2,
    .max_inputs = 3,
    .n_outputs = 1,
    .prepare = dw_prepare,
    .eval = dw_eval,
    .release = dw_release,
};
