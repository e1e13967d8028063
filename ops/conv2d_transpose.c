/* conv2d_transpose: the gradient of conv2d with respect to its input (PyTorch ConvTranspose2d, TFLite
 * TRANSPOSE_CONV), NHWC. x [N, H, W, Ci], filter [Co, KH, KW, Ci] (a PyTorch ConvTranspose2d weight
 * [Ci, Co, KH, KW] permuted to (1, 2, 3, 0)), bias [Co] optional, row count optional (op_util.h: only the
 * first count images are computed, the rest are zero).
 *
 *   out[n, oy, ox, co] = bias[co] + sum over iy, ix, ky, kx, ci with oy = iy*sh - pad_top + ky and
 *                        ox = ix*sw - pad_left + kx of x[n, iy, ix, ci] * filter[co, ky, kx, ci]
 *   OH = (H - 1)*sh - pad_top - pad_bottom + KH + output_padding_h   (likewise OW)
 *
 * Attributes: stride [sh, sw] (default [1, 1]); padding "valid" (default, no padding) or explicit
 * [top, left, bottom, right] (PyTorch's padding p is [p, p, p, p]); output_padding [oh, ow] (each less
 * than the stride); activation.
 *
 * Quantized (u8/u8 or i8/i8 input and filter, per-channel filter scales on axis 0, i32 bias at input x filter
 * scale, quantized output), when the stride equals the kernel and there is no padding (the Mask R-CNN head's
 * 2x2 stride 2): every output pixel then receives exactly one kernel tap, so each output element is
 *   clamp(MultiplyByQuantizedMultiplier(bias[co] + sum_ci (x - x_zp)(w - w_zp[co]), x_s * w_s[co] / out_s) + out_zp)
 * TFLite's conv requantization (op_util.h op_requant), with no int32 accumulation across taps. For each
 * kernel row ky one conv_q8 GEMM (kernels.h) per input row computes all KW*Co outputs of every input pixel:
 * row ix of the GEMM lands on output pixels (iy*KH + ky, ix*KW + kx), KW*Co bytes apart (ldo).
 *
 * Work is split into (image, output-channel block) items. For each tile of input pixels one GEMM through
 * exec->kernels->gemm_f32 gives every pixel's KH*KW*Co_block contributions (the filter rows of a block
 * are contiguous), which are then added to the output positions they land on. Items never write the
 * same output element, so no synchronisation is needed.
 *
 * f32 with stride equal to the kernel and no padding, when the table has a SIMD conv_f32: the quantized
 * path's scheme with conv_f32 (one packed filter per kernel row, bias and activation fused in the kernel),
 * so every output element is written once, in place. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

#define CT_TILE_M 64
#define CT_MAX_COLS 4096 /* KH*KW*Co_block per GEMM: bounds the scratch tile */

#define CT_MAX_KH 16 /* the per-row forms (int8, and f32 with a SIMD conv_f32): kernel rows, one packed filter each */

typedef struct {
    int batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w;
    int stride_h, stride_w, pad_top, pad_left;
    int co_block, n_blocks;
    float act_lo, act_hi;
    size_t slot_bytes;
    /* f32, stride == kernel, no padding, SIMD conv_f32 (see above): per kernel row ky, conv_f32 over
     * N = KW*Co channels (column kx*Co + co) */
    void *f32_rows[CT_MAX_KH];   /* conv_f32_pack(KW*Co, Ci, filter rows (kx, co) of kernel row ky) */
    void *(*f32_packed_by)(int n, int k, const float *w);
    float *bias_cols;            /* [KW*Co]: bias[co] for every kx (zeros without a bias) */
    /* quantized: per kernel row ky, conv_q8 over N = KW*Co channels (column kx*Co + co) */
    bool q8;
    detc_dtype dtype;
    op_requant rq;                          /* per output channel */
    int32_t *bias_adj;                      /* [KH][KW*Co]: bias - x_zp * sum(w) + Ci * x_zp * w_zp */
    int32_t *mult, *lshift, *rshift, *w_zp; /* [KW*Co]: rq's, repeated for every kx */
    uint8_t *w_rows;                        /* [KH][KW*Co][Ci]: the filter rows of each ky */
    bool need_rowsum;
    detc_conv_q8_params kp[CT_MAX_KH];
    void *packed[CT_MAX_KH];
    void *(*packed_by)(int n, int k, const uint8_t *w, int is_signed);
} ct_data;

static void ct_free_packed(ct_data *d)
{
    for (int ky = 0; ky < CT_MAX_KH; ky++) {
        free(d->packed[ky]);
        d->packed[ky] = NULL;
    }
    d->packed_by = NULL;
}

static void ct_release(void *op_data)
{
    ct_data *d = op_data;
    if (!d)
        return;
    for (int ky = 0; ky < CT_MAX_KH; ky++)
        free(d->f32_rows[ky]);
    free(d->bias_cols);
    ct_free_packed(d);
    op_requant_free(&d->rq);
    free(d->bias_adj);
    free(d->mult);
    free(d->lshift);
    free(d->rshift);
    free(d->w_zp);
    free(d->w_rows);
    free(d);
}

/* The f32 per-row form: kernel row ky's filter [Co][ky][KW][Ci] reordered to rows (kx, co) and packed for
 * k's conv_f32. Any other table, or a filter or bias that is not constant, takes the general path. */
static bool prepare_rows_f32(detc_prep *p, ct_data *d, const detc_tensor *w, const detc_tensor *b)
{
    const detc_kernels *k = p->kernels;
    if (!k || !k->conv_f32 || k->conv_f32 == detc_kernels_portable.conv_f32 || d->k_h > CT_MAX_KH ||
        w->kind != DETC_TENSOR_CONSTANT || !w->data || (b && (b->kind != DETC_TENSOR_CONSTANT || !b->data)))
        return true;
    int n = d->k_w * d->out_c;
    float *rows = malloc((size_t)n * (size_t)d->in_c * sizeof *rows);
    d->bias_cols = calloc((size_t)n, sizeof *d->bias_cols);
    bool ok = rows && d->bias_cols;
    const float *wf = w->data, *bf = b ? b->data : NULL;
    for (int ky = 0; ok && ky < d->k_h; ky++) {
        for (int kx = 0; kx < d->k_w; kx++)
            for (int co = 0; co < d->out_c; co++) {
                memcpy(rows + ((size_t)kx * d->out_c + co) * d->in_c,
                       wf + (((size_t)co * d->k_h + ky) * d->k_w + kx) * d->in_c, (size_t)d->in_c * sizeof *rows);
                d->bias_cols[kx * d->out_c + co] = bf ? bf[co] : 0.0f;
            }
        d->f32_rows[ky] = k->conv_f32_pack(n, d->in_c, rows);
        ok = d->f32_rows[ky] != NULL;
    }
    free(rows);
    if (!ok) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    d->f32_packed_by = k->conv_f32_pack;
    detc_prep_copied_input(p, 1);
    return true;
}

/* Each kernel row's filter in k's conv_q8 layout (replacing any earlier packing). False when memory runs out. */
static bool ct_pack(ct_data *d, const detc_kernels *k)
{
    ct_free_packed(d);
    int n = d->k_w * d->out_c;
    for (int ky = 0; ky < d->k_h; ky++) {
        d->packed[ky] = k->conv_q8_pack(n, d->in_c, d->w_rows + (size_t)ky * n * d->in_c, d->dtype == DETC_I8);
        if (!d->packed[ky]) {
            ct_free_packed(d);
            return false;
        }
        d->kp[ky].packed = d->packed[ky];
    }
    d->packed_by = k->conv_q8_pack;
    return true;
}

/* After the shapes are known: requantization constants, folded biases and packed filters. */
static bool ct_prepare_q8(detc_prep *p, ct_data *d, detc_activation act)
{
    const detc_tensor *w = detc_prep_in(p, 1);
    if (d->stride_h != d->k_h || d->stride_w != d->k_w || d->pad_top || d->pad_left ||
        d->out_h != d->in_h * d->k_h || d->out_w != d->in_w * d->k_w || d->k_h > CT_MAX_KH) {
        detc_prep_error(p, DETC_ERR_UNSUPPORTED,
                        "quantized conv2d_transpose needs stride = kernel size (up to %d rows), no padding and no "
                        "output padding (each output pixel then gets one tap); this node has kernel %dx%d, stride "
                        "[%d, %d]; fix: keep it f32 when converting",
                        CT_MAX_KH, d->k_h, d->k_w, d->stride_h, d->stride_w);
        return false;
    }
    if ((int64_t)d->in_c > (d->dtype == DETC_U8 ? INT32_MAX / (255 * 255) : INT32_MAX / (128 * 128))) {
        detc_prep_error(p, DETC_ERR_UNSUPPORTED, "%d input channels could overflow the int32 sums", d->in_c);
        return false;
    }
    if (!op_requant_prepare(p, d->out_c, 0, act, &d->rq))
        return false;
    if (!op_requant_split(&d->rq)) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    int n = d->k_w * d->out_c, ci = d->in_c;
    d->bias_adj = calloc((size_t)d->k_h * n, sizeof *d->bias_adj);
    d->mult = calloc((size_t)n, sizeof *d->mult);
    d->lshift = calloc((size_t)n, sizeof *d->lshift);
    d->rshift = calloc((size_t)n, sizeof *d->rshift);
    d->w_zp = calloc((size_t)n, sizeof *d->w_zp);
    d->w_rows = malloc((size_t)d->k_h * n * ci);
    if (!d->bias_adj || !d->mult || !d->lshift || !d->rshift || !d->w_zp || !d->w_rows) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    const uint8_t *wb = w->data;
    int64_t xz = d->rq.x_zp;
    for (int ky = 0; ky < d->k_h; ky++)
        for (int kx = 0; kx < d->k_w; kx++)
            for (int co = 0; co < d->out_c; co++) {
                int col = kx * d->out_c + co;
                const uint8_t *src = wb + (((size_t)co * d->k_h + ky) * d->k_w + kx) * ci;
                memcpy(d->w_rows + ((size_t)ky * n + col) * ci, src, (size_t)ci);
                int64_t colsum = 0;
                for (int k = 0; k < ci; k++)
                    colsum += d->dtype == DETC_U8 ? src[k] : (int8_t)src[k];
                int64_t wz = d->rq.w_zp[co];
                d->bias_adj[(size_t)ky * n + col] = (int32_t)(uint32_t)((int64_t)d->rq.bias[co] - xz * colsum + (int64_t)ci * xz * wz);
                d->mult[col] = d->rq.mult[co];
                d->lshift[col] = d->rq.lshift[co];
                d->rshift[col] = d->rq.rshift[co];
                d->w_zp[col] = (int32_t)wz;
                if (wz != 0)
                    d->need_rowsum = true;
            }
    for (int ky = 0; ky < d->k_h; ky++)
        d->kp[ky] = (detc_conv_q8_params){.n = n,
                                          .k = ci,
                                          .is_signed = d->dtype == DETC_I8,
                                          .bias = d->bias_adj + (size_t)ky * n,
                                          .w_zp = d->need_rowsum ? d->w_zp : NULL,
                                          .mult = d->mult,
                                          .lshift = d->lshift,
                                          .rshift = d->rshift,
                                          .out_zp = d->rq.out_zp,
                                          .act_min = d->rq.act_min,
                                          .act_max = d->rq.act_max};
    /* for the table eval will run with; eval repacks if it is handed another (as conv2d does) */
    if (!ct_pack(d, p->kernels ? p->kernels : &detc_kernels_portable)) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    detc_prep_copied_input(p, 1); /* eval reads w_rows and the packed rows only */
    return true;
}

static bool parse_attrs(detc_prep *p, int64_t stride[2], int64_t pads[4], int64_t opad[2], detc_activation *act)
{
    static const int64_t ones[2] = {1, 1}, zeros[2] = {0, 0};
    bool ok = detc_attr_ints(p, "stride", false, 2, 2, ones, 1, 64, stride, NULL);
    ok = detc_attr_ints(p, "output_padding", false, 2, 2, zeros, 0, 63, opad, NULL) && ok;
    ok = detc_attr_activation(p, act) && ok;
    int64_t dil[2] = {1, 1};
    bool dil_ok = detc_attr_ints(p, "dilation", false, 2, 2, ones, 1, 64, dil, NULL);
    ok = dil_ok && ok;
    if (dil_ok && (dil[0] != 1 || dil[1] != 1)) {
        detc_prep_error(p, DETC_ERR_UNSUPPORTED,
                        "dilation [%lld, %lld] is not supported by conv2d_transpose; only [1, 1] (the Mask R-CNN "
                        "head's); fix: convert without dilation",
                        (long long)dil[0], (long long)dil[1]);
        ok = false;
    }
    memset(pads, 0, 4 * sizeof *pads);
    const cJSON *pad = detc_attr_get(p, "padding");
    if (pad && cJSON_IsArray(pad)) {
        ok = detc_attr_ints(p, "padding", true, 4, 4, NULL, 0, 1024, pads, NULL) && ok;
    } else if (pad && !(cJSON_IsString(pad) && strcmp(pad->valuestring, "valid") == 0)) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'padding' must be \"valid\" or explicit [top, left, bottom, right]; convert "
                        "PyTorch's padding p to [p, p, p, p]");
        ok = false;
    }
    if (ok && (opad[0] >= stride[0] || opad[1] >= stride[1])) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "output_padding [%lld, %lld] must be smaller than the stride [%lld, %lld], as in PyTorch",
                        (long long)opad[0], (long long)opad[1], (long long)stride[0], (long long)stride[1]);
        ok = false;
    }
    return ok;
}

static bool ct_prepare(detc_prep *p)
{
    int64_t stride[2], pads[4], opad[2];
    detc_activation act;
    bool ok = op_check_counts(p);
    bool attrs = parse_attrs(p, stride, pads, opad, &act);
    if (!detc_prep_require_input(p, 0, "input") || !detc_prep_require_input(p, 1, "filter"))
        return false;
    const char *fix = "conv2d_transpose takes f32, or u8/i8 input and filter with an i32 bias";
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8), fix) && ok;
    if (!ok)
        return false;
    detc_dtype dt = detc_prep_in(p, 0)->dtype;
    bool q8 = dt != DETC_F32;
    ok = detc_prep_dtype(p, 1, DETC_MASK(dt), "the filter must have the input's dtype") && ok;
    ok = detc_prep_dtype(p, 2, DETC_MASK(q8 ? DETC_I32 : DETC_F32), q8 ? "a quantized op takes an i32 bias" : fix) && ok;
    if (q8)
        ok = detc_prep_constant(p, 1, "it is packed at load") && ok;
    ok = detc_prep_rank(p, 0, 4, 4) && ok;
    ok = detc_prep_rank(p, 1, 4, 4) && ok;
    ok = detc_prep_rank(p, 2, 1, 1) && ok;
    ok = op_check_row_count(p, 3) && ok;
    if (!ok || !attrs)
        return false;
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1), *b = detc_prep_in(p, 2);
    char xs[128], ws[128];
    detc_shape_str(x->rank, x->dims, xs, sizeof xs);
    detc_shape_str(w->rank, w->dims, ws, sizeof ws);
    for (int i = 0; i < 4; i++)
        if (x->dims[i] < 1 || w->dims[i] < 1) {
            detc_prep_error(p, DETC_ERR_SHAPE, "input %s and filter %s must have positive dimensions", xs, ws);
            return false;
        }
    if (w->dims[3] != x->dims[3]) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "filter %s has %d input channels but the input %s has %d; the filter must be [out_channels, "
                        "kernel_h, kernel_w, %d] (PyTorch's ConvTranspose2d weight [in, out, kh, kw] permuted to "
                        "(1, 2, 3, 0))",
                        ws, (int)w->dims[3], xs, (int)x->dims[3], (int)x->dims[3]);
        ok = false;
    }
    if (b && b->dims[0] != w->dims[0]) {
        detc_prep_error(p, DETC_ERR_SHAPE, "bias has %d entries, expected %d (the filter's output channels)",
                        (int)b->dims[0], (int)w->dims[0]);
        ok = false;
    }
    int64_t oh = ((int64_t)x->dims[1] - 1) * stride[0] - pads[0] - pads[2] + w->dims[1] + opad[0];
    int64_t ow = ((int64_t)x->dims[2] - 1) * stride[1] - pads[1] - pads[3] + w->dims[2] + opad[1];
    if (ok && (oh < 1 || ow < 1 || oh > INT32_MAX || ow > INT32_MAX)) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "input %s with filter %s, stride [%lld, %lld] and padding [%lld, %lld, %lld, %lld] gives an "
                        "output of %lldx%lld; reduce the padding",
                        xs, ws, (long long)stride[0], (long long)stride[1], (long long)pads[0], (long long)pads[1],
                        (long long)pads[2], (long long)pads[3], (long long)oh, (long long)ow);
        ok = false;
    }
    if (!ok)
        return false;
    int32_t dims[4] = {x->dims[0], (int32_t)oh, (int32_t)ow, w->dims[0]};
    if (!detc_prep_set_output(p, 0, dt, 4, dims, NULL, q8))
        return false;
    ct_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    *d = (ct_data){.q8 = q8, .dtype = dt, .batch = x->dims[0], .in_h = x->dims[1], .in_w = x->dims[2], .in_c = x->dims[3],
                   .out_h = (int)oh, .out_w = (int)ow, .out_c = w->dims[0], .k_h = w->dims[1], .k_w = w->dims[2],
                   .stride_h = (int)stride[0], .stride_w = (int)stride[1], .pad_top = (int)pads[0],
                   .pad_left = (int)pads[1]};
    detc_activation_range_f(act, &d->act_lo, &d->act_hi);
    if (q8)
        return ct_prepare_q8(p, d, act);
    int taps = d->k_h * d->k_w;
    d->co_block = CT_MAX_COLS / taps < 1 ? 1 : CT_MAX_COLS / taps;
    if (d->co_block > d->out_c)
        d->co_block = d->out_c;
    /* with few images, split the channels further so every thread gets work */
    while (d->batch * ((d->out_c + d->co_block - 1) / d->co_block) < OP_MAX_PARTS && d->co_block > 16)
        d->co_block = (d->co_block + 1) / 2;
    d->n_blocks = (d->out_c + d->co_block - 1) / d->co_block;
    d->slot_bytes = op_align((size_t)CT_TILE_M * (size_t)taps * (size_t)d->co_block * sizeof(float));
    p->node->scratch_bytes = d->slot_bytes * OP_MAX_PARTS;
    if (d->stride_h == d->k_h && d->stride_w == d->k_w && pads[0] == 0 && pads[1] == 0 && pads[2] == 0 &&
        pads[3] == 0 && opad[0] == 0 && opad[1] == 0)
        return prepare_rows_f32(p, d, w, b);
    return true;
}

typedef struct {
    const ct_data *d;
    const detc_kernels *kernels;
    const float *x, *w, *b;
    float *out;
    uint8_t *scratch;
    int parts, items;
} ct_job;

static void run_item(const ct_job *j, float *col, int item)
{
    const ct_data *d = j->d;
    int n = item / d->n_blocks, blk = item % d->n_blocks;
    int co0 = blk * d->co_block, co1 = co0 + d->co_block < d->out_c ? co0 + d->co_block : d->out_c, nco = co1 - co0;
    int taps = d->k_h * d->k_w, cols = taps * nco;
    float *out = j->out + (size_t)n * d->out_h * d->out_w * d->out_c;
    for (int64_t px = 0; px < (int64_t)d->out_h * d->out_w; px++)
        for (int c = co0; c < co1; c++)
            out[px * d->out_c + c] = j->b ? j->b[c] : 0.0f;
    const float *x = j->x + (size_t)n * d->in_h * d->in_w * d->in_c;
    const float *wb = j->w + (size_t)co0 * taps * d->in_c; /* rows (co, ky, kx) of Ci values */
    int pixels = d->in_h * d->in_w;
    for (int p0 = 0; p0 < pixels; p0 += CT_TILE_M) {
        int m = pixels - p0 < CT_TILE_M ? pixels - p0 : CT_TILE_M;
        j->kernels->gemm_f32(m, cols, d->in_c, x + (size_t)p0 * d->in_c, d->in_c, wb, d->in_c, col, cols);
        for (int i = 0; i < m; i++) {
            int iy = (p0 + i) / d->in_w, ix = (p0 + i) % d->in_w;
            const float *row = col + (size_t)i * cols;
            for (int ky = 0; ky < d->k_h; ky++) {
                int oy = iy * d->stride_h - d->pad_top + ky;
                if (oy < 0 || oy >= d->out_h)
                    continue;
                for (int kx = 0; kx < d->k_w; kx++) {
                    int ox = ix * d->stride_w - d->pad_left + kx;
                    if (ox < 0 || ox >= d->out_w)
                        continue;
                    float *o = out + ((size_t)oy * d->out_w + ox) * d->out_c + co0;
                    const float *src = row + ky * d->k_w + kx; /* column (c, ky, kx) */
                    for (int c = 0; c < nco; c++)
                        o[c] += src[(size_t)c * taps];
                }
            }
        }
    }
    if (d->act_lo > -3.0e38f || d->act_hi < 3.0e38f)
        for (int64_t px = 0; px < (int64_t)d->out_h * d->out_w; px++)
            for (int c = co0; c < co1; c++) {
                float v = out[px * d->out_c + c];
                v = v < d->act_lo ? d->act_lo : v;
                out[px * d->out_c + c] = v > d->act_hi ? d->act_hi : v;
            }
}

/* The f32 per-row form over (image, input row) items: for each kernel row, one conv_f32 whose row ix lands
 * on output pixels (iy*KH + ky, ix*KW + kx), KW*Co floats apart (ldo), as ct_q8_parts does. */
static void rows_f32_parts(void *ctx, int begin, int end)
{
    const ct_job *j = ctx;
    const ct_data *d = j->d;
    for (int part = begin; part < end; part++) {
        int i0 = (int)((int64_t)j->items * part / j->parts), i1 = (int)((int64_t)j->items * (part + 1) / j->parts);
        for (int item = i0; item < i1; item++) {
            int n = item / d->in_h, iy = item % d->in_h;
            const float *a = j->x + (((size_t)n * d->in_h + iy) * d->in_w) * d->in_c;
            for (int ky = 0; ky < d->k_h; ky++) {
                detc_conv_f32_params prm = {.n = d->k_w * d->out_c, .k = d->in_c, .packed = d->f32_rows[ky],
                                            .bias = d->bias_cols, .act_lo = d->act_lo, .act_hi = d->act_hi};
                float *o = j->out + (((size_t)n * d->out_h + (size_t)iy * d->k_h + ky) * d->out_w) * d->out_c;
                j->kernels->conv_f32(&prm, d->in_w, a, d->in_c, o, d->k_w * d->out_c);
            }
        }
    }
}

static void ct_parts(void *ctx, int begin, int end)
{
    const ct_job *j = ctx;
    for (int part = begin; part < end; part++) {
        float *col = (float *)(void *)(j->scratch + (size_t)part * j->d->slot_bytes);
        int i0 = (int)((int64_t)j->items * part / j->parts), i1 = (int)((int64_t)j->items * (part + 1) / j->parts);
        for (int item = i0; item < i1; item++)
            run_item(j, col, item);
    }
}

typedef struct {
    const ct_data *d;
    const detc_kernels *kernels;
    const uint8_t *x;
    uint8_t *out;
    int parts, items; /* items: (image, input row) pairs */
} ct_q8_job;

static void ct_q8_parts(void *ctx, int begin, int end)
{
    const ct_q8_job *j = ctx;
    const ct_data *d = j->d;
    for (int part = begin; part < end; part++) {
        int i0 = (int)((int64_t)j->items * part / j->parts), i1 = (int)((int64_t)j->items * (part + 1) / j->parts);
        for (int item = i0; item < i1; item++) {
            int n = item / d->in_h, iy = item % d->in_h;
            const uint8_t *a = j->x + (((size_t)n * d->in_h + iy) * d->in_w) * d->in_c;
            for (int ky = 0; ky < d->k_h; ky++) {
                uint8_t *o = j->out + (((size_t)n * d->out_h + (size_t)iy * d->k_h + ky) * d->out_w) * d->out_c;
                j->kernels->conv_q8(&d->kp[ky], d->in_w, a, d->in_c, o, d->k_w * d->out_c);
            }
        }
    }
}

static detc_code ct_eval_q8(const detc_exec *x, detc_node *node, ct_data *d)
{
    if (x->kernels->conv_q8_pack != d->packed_by && !ct_pack(d, x->kernels))
        return DETC_ERR_NOMEM;
    ct_q8_job j = {.d = d, .kernels = x->kernels, .x = detc_in(x->g, node, 0)->data,
                   .out = detc_out(x->g, node, 0)->data};
    int rows = op_row_count(x, node, 3, d->batch);
    j.items = rows * d->in_h;
    j.parts = op_parts(x, j.items, 1);
    if (j.items > 0)
        detc_parallel_for(x->pool, j.parts, 1, ct_q8_parts, &j);
    size_t per_row = (size_t)d->out_h * d->out_w * d->out_c;
    memset(j.out + (size_t)rows * per_row, (uint8_t)d->rq.out_zp, (size_t)(d->batch - rows) * per_row); /* real 0 */
    return DETC_OK;
}

static detc_code ct_eval(const detc_exec *x, detc_node *node)
{
    ct_data *d = node->op_data;
    if (d->q8)
        return ct_eval_q8(x, node, d);
    if (!x->scratch)
        return DETC_ERR_RUNTIME;
    const detc_tensor *b = detc_in(x->g, node, 2);
    ct_job j = {.d = d,
                .kernels = x->kernels,
                .x = detc_in(x->g, node, 0)->data,
                .w = detc_in(x->g, node, 1)->data,
                .b = b ? b->data : NULL,
                .out = detc_out(x->g, node, 0)->data,
                .scratch = x->scratch,
                .items = 0};
    int rows = op_row_count(x, node, 3, d->batch);
    if (d->f32_packed_by && x->kernels->conv_f32_pack == d->f32_packed_by) {
        j.items = rows * d->in_h;
        j.parts = op_parts(x, j.items, 1);
        if (j.items > 0)
            detc_parallel_for(x->pool, j.parts, 1, rows_f32_parts, &j);
    } else {
        j.items = rows * d->n_blocks;
        j.parts = op_parts(x, j.items, 1);
        if (j.items > 0)
            detc_parallel_for(x->pool, j.parts, 1, ct_parts, &j);
    }
    size_t per_row = (size_t)d->out_h * d->out_w * d->out_c;
    memset(j.out + (size_t)rows * per_row, 0, (size_t)(d->batch - rows) * per_row * sizeof(float));
    return DETC_OK;
}

const detc_op detc_op_conv2d_transpose = {
    .name = "conv2d_transpose",
    .min_inputs = 2,
    .max_inputs = 4,
    .n_outputs = 1,
    .prepare = ct_prepare,
    .eval = ct_eval,
    .release = ct_release,
};
