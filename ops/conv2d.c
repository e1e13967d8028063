/* conv2d: NHWC input, OHWI filter, optional bias, optional row count (op_util.h: only the first count
 * images of the batch are computed, the rest are zero). f32, u8 (per-tensor, TFLite uint8 arithmetic) and i8
 * (per-channel, TFLite int8 arithmetic).
 *
 * Every path is an im2col + GEMM through the kernel table: each output pixel's receptive field is laid
 * out as one row of K = KH*KW*Ci values (padding filled with the input zero point, i.e. real 0), and
 * the OHWI filter already is the GEMM's B matrix (one row of K values per output channel). 1x1 convs
 * with stride 1 and no padding read the input in place.
 *
 * Quantized: the kernel table's conv_q8 multiplies raw values and folds the zero points in:
 *   sum((x - xz)(w - wz)) = sum(x w) - wz sum(x) - xz sum(w) + K xz wz
 * with sum(w) per channel precomputed into the bias and sum(x) per pixel computed from the row, then
 * requantizes and writes the output bytes directly. The filter is packed for the table's conv_q8 once, at
 * prepare (for detc_prep.kernels; eval repacks if it is handed another table's conv_q8). Attribute `rounding`
 * picks the requantization: "double" (default) is TFLite's reference MultiplyByQuantizedMultiplier (gemmlowp,
 * two roundings: TFLite's uint8 CONV_2D), "single" is ruy's (one rounding half up: TFLite's int8 CONV_2D,
 * which cpu_backend_gemm runs through ruy); kernels.h's conv_q8 has both. "single" on an f32 conv is refused.
 *
 * Float: when the table has a SIMD conv_f32, the filter is packed for it once, at prepare (in channel slices
 * that threads split when the output has far more channels than pixels, CONV_F32_SLICE_C), and each tile is one
 * call that also adds the bias and clamps; otherwise (portable, ARM NEON) the tiles go through gemm_f32 on the
 * filter as it is and a bias/clamp pass. Stride-1 3x3 convs with at least WINO_MIN_CHANNELS input and output
 * channels use Winograd F(4x4, 3x3) (conv2d_winograd.c) unless detc_prep.no_winograd (detc_options.no_winograd,
 * DETC_WINOGRAD=0). Eval never writes op_data: handed another table than prepare packed for, a float conv
 * takes the gemm_f32 path.
 *
 * Quantized Winograd (attribute `winograd` "int16", written by detc-convert --quantize int8; quantized ungrouped
 * 3x3 stride-1 dilation-1 convs only, an error elsewhere): Winograd F(4x4, 3x3) with exact int16 transforms
 * (conv2d_winograd_q8.c), an approximation of the direct sum, unless detc_prep.no_winograd (then the exact
 * direct path above). The direct filter is then not packed at all.
 *
 * Grouped convolution (attribute `groups` G, default 1; f32): the input's Ci channels and the Co filters
 * split into G groups, filter [Co, KH, KW, Ci / G], output channel o reads input channels
 * [(o / (Co / G)) * Ci / G, ...) (PyTorch's Conv2d(groups=G); ResNeXt's 3x3 convs): conv_eval_grouped, one
 * im2col tile and GEMM per group (group_im2col, grouped_parts), apart from the code above. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv2d_winograd.h"
#include "conv2d_winograd_q8.h"
#include "kernels.h"
#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

/* Output pixels per GEMM call: bounds the im2col tile. Quantized direct convs need no tile memory and hand
 * conv_q8 up to CONV_TILE_M_DIRECT rows at once (it blocks them itself). */
#define CONV_TILE_M 32
#define CONV_TILE_M_DIRECT 1024
/* Quantized im2col: up to this many bytes (and CONV_Q8_TILE_MAX rows) per tile, so that a small K (a
 * 3-channel first layer's 27) hands conv_q8 more rows per call than CONV_TILE_M. */
#define CONV_Q8_TILE_BYTES 8192
#define CONV_Q8_TILE_MAX 256
/* Bytes past an im2col tile that im2col may write (its 16-byte copies of shorter kernel rows). */
#define IM2COL_SLACK 16
/* Do not split convs smaller than this many output pixels per part across threads. */
#define CONV_MIN_PIXELS_PER_PART 16
/* ... and this many multiply-adds: handing a part to another thread costs microseconds, which the small
 * late layers of a quantized MobileNet (a few hundred thousand MACs) do not repay. */
#define CONV_MIN_MACS_PER_PART (1 << 19)
/* Float: bytes of one im2col tile (rows of K floats), and the bounds of its row count. More rows per call
 * amortize each pass over the filter (the packed kernels stream it from L2, a BLAS repacks it per call). */
#define CONV_F32_TILE_BYTES (384u << 10)
#define CONV_F32_TILE_MIN 12
#define CONV_F32_TILE_MAX 192
#define CONV_F32_TILE_DIRECT 384
/* Float convs with more than twice as many output channels as output pixels (the late, small maps, whose
 * filters are the larger operand) pack the filter in slices of CONV_F32_SLICE_C channels (at most
 * OP_MAX_PARTS slices, each a multiple of it), and threads split the slices instead of the pixels: each
 * thread then reads only its part of the filter (which may fit its L2 where the whole does not), and a map of
 * 25 or 9 pixels, too few to split, still gets all threads. Not at parity (SSD's 19x19 maps, 384 channels):
 * there the next op, which splits pixels, would read half of every pixel from the other core's cache (SSD
 * f32 at 2 threads: the 19x19 depthwise convs took 0.078 ms instead of 0.06). */
#define CONV_F32_SLICE_C 32
/* Quantized convs slice the same way (SSD uint8's 5x5 and 3x3 maps: 384 and 546 channels on 25 pixels ran on
 * one thread at any thread count). */
#define CONV_Q8_SLICE_C 32
/* Winograd only where the transforms are repaid: at least this many input and output channels. */
#define WINO_MIN_CHANNELS 16

typedef struct {
    int batch, in_h, in_w, in_c;
    int out_c, k_h, k_w;
    op_window win;
    int k;              /* KH * KW * Ci */
    bool direct;        /* 1x1, stride 1, no padding: input pixels are the GEMM rows */
    detc_dtype dtype;
    float act_lo, act_hi;
    op_requant rq;
    uint32_t *bias_adj; /* quantized: bias - xz*sum(w) + K*xz*wz, modulo 2^32 */
    bool need_rowsum;   /* a filter zero point is non-zero */
    bool round_once;    /* attribute rounding = "single": ruy's requantization (kernels.h, conv_q8) */
    detc_conv_q8_params kp;  /* quantized: conv_q8's parameters (kp.packed is `packed`) */
    void *packed;            /* the filter as packed_by lays it out, for conv_fn (the same table's conv_q8) */
    void *(*packed_by)(int n, int k, const uint8_t *w, int is_signed);
    void (*conv_fn)(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo);
    size_t col_bytes, slot_bytes;
    int groups;         /* grouped convolution: > 1 (f32 only, see conv_eval_grouped) */
    int tile_m;              /* float: output pixels per kernel call */
    void *f32_packed;        /* float: the filter as f32_packed_by (a SIMD conv_f32_pack) lays it out, or NULL */
    void *(*f32_packed_by)(int n, int k, const float *w);
    int n_slices, slice_c;   /* packed: output channels [s*slice_c, ...) of slice s packed on their own */
    void *slice_packed[OP_MAX_PARTS]; /* (n_slices > 1; f32_packed or packed is then NULL) */
    bool use_wino;           /* float 3x3 stride 1: Winograd F(4x4, 3x3) */
    conv_wino wino;
    bool use_wino_q8;        /* quantized, attribute winograd = "int16": Winograd with int16 transforms */
    conv_wino_q8 wino_q8;
} conv_data;

static void conv_release(void *op_data)
{
    conv_data *d = op_data;
    if (!d)
        return;
    op_requant_free(&d->rq);
    free(d->bias_adj);
    free(d->packed);
    free(d->f32_packed);
    for (int s = 0; s < d->n_slices; s++)
        free(d->slice_packed[s]);
    conv_wino_release(&d->wino);
    conv_wino_q8_release(&d->wino_q8);
    free(d);
}

/* ---------------- prepare ---------------- */

/* What check_operands found usable, so that later checks run whenever their operands allow. */
typedef struct {
    bool quantized;
    bool x_ok;       /* input present, f32/u8/i8, rank 4 */
    bool w_ok;       /* filter present, rank 4 */
    bool types_ok;   /* filter and bias dtypes match the input's */
    bool b_rank_ok;  /* bias absent or rank 1 */
} conv_operands;

static bool check_operands(detc_prep *p, conv_operands *o)
{
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1), *b = detc_prep_in(p, 2);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    bool w_present = detc_prep_require_input(p, 1, "filter");
    ok = w_present && ok;
    bool x_dtype = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                                   "convert the model to f32, or quantize it to u8 (per-tensor) or i8 (per-channel)");
    bool x_rank = detc_prep_rank(p, 0, 4, 4);
    o->quantized = x->dtype == DETC_U8 || x->dtype == DETC_I8;
    o->x_ok = x_dtype && x_rank;
    o->types_ok = x_dtype;
    if (w && x_dtype) {
        char mixed[200];
        /* a quantized filter fed a float input: usually the quantize at the start of an int8 region is missing */
        snprintf(mixed, sizeof mixed,
                 "the filter is quantized but the input is f32: insert a quantize (cast to %s with the input's scale "
                 "and zero point) before this conv, or dequantize the weights when converting",
                 detc_dtype_name(w->dtype));
        const char *fix = x->dtype == DETC_F32 ? (w->dtype == DETC_U8 || w->dtype == DETC_I8
                                                      ? mixed
                                                      : "give an f32 input an f32 filter (dequantize the weights "
                                                        "when converting)")
                          : x->dtype == DETC_U8 ? "quantize the filter to u8 per tensor, like the input"
                                                : "quantize the filter to i8 (per-channel on axis 0, zero point 0), "
                                                  "like the input";
        o->types_ok = detc_prep_dtype(p, 1, DETC_MASK(x->dtype), fix) && o->types_ok;
    }
    bool w_rank = detc_prep_rank(p, 1, 4, 4);
    o->w_ok = w_present && w_rank;
    o->b_rank_ok = true;
    if (b && x_dtype && o->types_ok) /* after a filter mismatch the bias's dtype only repeats it */
        o->types_ok = detc_prep_dtype(p, 2, DETC_MASK(o->quantized ? DETC_I32 : DETC_F32),
                                      o->quantized ? "quantize the bias to i32 with scale = input scale x filter scale"
                                                   : "give an f32 conv an f32 bias") &&
                      o->types_ok;
    if (b)
        o->b_rank_ok = detc_prep_rank(p, 2, 1, 1);
    ok = op_check_row_count(p, 3) && ok;
    ok = o->x_ok && o->types_ok && w_rank && o->b_rank_ok && ok;
    if (o->quantized) {
        ok = detc_prep_constant(p, 1, "its per-channel sums are precomputed") && ok;
        ok = detc_prep_constant(p, 2, "it is folded with the zero-point corrections") && ok;
    }
    return ok;
}

/* Channel counts of filter and bias against the input's; x and w are present with rank 4. */
static bool check_shapes(detc_prep *p, const conv_operands *o, int groups)
{
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1), *b = detc_prep_in(p, 2);
    bool ok = true;
    char xs[128], ws[128], xd[600], wd[600];
    detc_shape_str(x->rank, x->dims, xs, sizeof xs);
    detc_shape_str(w->rank, w->dims, ws, sizeof ws);
    detc_prep_operand_desc(p, 0, xd, sizeof xd);
    detc_prep_operand_desc(p, 1, wd, sizeof wd);
    if (groups > 1) {
        if (x->dims[3] % groups || w->dims[0] % groups || (int64_t)w->dims[3] * groups != x->dims[3]) {
            detc_prep_error(p, DETC_ERR_SHAPE,
                            "%s: with groups %d the input's %d channels and the filter's %d outputs must be multiples "
                            "of %d and filter %s (OHWI) must have %d input channels (Ci / groups), as %s %s has %d",
                            wd, groups, (int)x->dims[3], (int)w->dims[0], groups, ws,
                            groups ? (int)(x->dims[3] / groups) : 0, xd, xs, (int)x->dims[3]);
            ok = false;
        }
    } else if (w->dims[3] != x->dims[3]) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "%s: filter %s (OHWI) has %d input channels but %s %s has %d; the filter must be "
                        "[out_channels, kernel_h, kernel_w, %d]",
                        wd, ws, (int)w->dims[3], xd, xs, (int)x->dims[3], (int)x->dims[3]);
        ok = false;
    }
    if (b && o->b_rank_ok && b->dims[0] != w->dims[0]) {
        char bd[600];
        detc_prep_operand_desc(p, 2, bd, sizeof bd);
        detc_prep_error(p, DETC_ERR_SHAPE, "%s: bias has %d entries, expected %d (the output channels of filter %s)",
                        bd, (int)b->dims[0], (int)w->dims[0], ws);
        ok = false;
    }
    return ok;
}

static void fill_geometry(conv_data *d, const detc_tensor *x, const detc_tensor *w)
{
    d->batch = x->dims[0];
    d->in_h = x->dims[1];
    d->in_w = x->dims[2];
    d->in_c = x->dims[3];
    d->out_c = w->dims[0];
    d->k_h = w->dims[1];
    d->k_w = w->dims[2];
    d->k = d->k_h * d->k_w * d->in_c;
    d->dtype = x->dtype;
    const detc_pads *pd = &d->win.pads;
    d->direct = d->k_h == 1 && d->k_w == 1 && d->win.stride_h == 1 && d->win.stride_w == 1 && pd->top == 0 &&
                pd->left == 0 && pd->bottom == 0 && pd->right == 0;
}

/* Largest K whose raw 8-bit dot products cannot overflow int32. */
static int64_t max_depth(detc_dtype dt)
{
    return dt == DETC_U8 ? INT32_MAX / (255 * 255) : dt == DETC_I8 ? INT32_MAX / (128 * 128) : INT32_MAX;
}

/* Output channel slices for a conv with more than twice as many output channels as output pixels: their count
 * (at most OP_MAX_PARTS, each slice a multiple of unit channels, *slice_c), or 0 for none. */
static int channel_slices(const conv_data *d, int unit, int *slice_c)
{
    int64_t pixels = (int64_t)d->batch * d->win.out_h * d->win.out_w;
    int slices = (d->out_c + unit - 1) / unit;
    if (slices > OP_MAX_PARTS)
        slices = OP_MAX_PARTS;
    if (d->out_c <= 2 * pixels || slices <= 1)
        return 0;
    int per = (d->out_c + slices - 1) / slices;
    *slice_c = (per + unit - 1) / unit * unit;
    return (d->out_c + *slice_c - 1) / *slice_c;
}

/* Output channels of slice s (the last may be narrower). */
static int slice_width(const conv_data *d, int s)
{
    int c0 = s * d->slice_c;
    return d->out_c - c0 < d->slice_c ? d->out_c - c0 : d->slice_c;
}

/* The filter w in the layout of k's conv_q8, whole or in channel slices (replacing any earlier packing). False
 * when memory runs out. */
static bool pack_filter(conv_data *d, const detc_kernels *k, const void *w)
{
    void *(*pack)(int, int, const uint8_t *, int) = k->conv_q8_pack;
    const int is_signed = d->dtype == DETC_I8;
    d->conv_fn = k->conv_q8;
    free(d->packed);
    d->packed = NULL;
    for (int s = 0; s < d->n_slices; s++) {
        free(d->slice_packed[s]);
        d->slice_packed[s] = NULL;
    }
    d->packed_by = NULL;
    d->n_slices = channel_slices(d, CONV_Q8_SLICE_C, &d->slice_c);
    for (int s = 0; s < d->n_slices; s++) {
        d->slice_packed[s] = pack(slice_width(d, s), d->k, (const uint8_t *)w + (size_t)s * d->slice_c * d->k,
                                  is_signed);
        if (!d->slice_packed[s])
            return false; /* the ones packed are released with the op */
    }
    if (!d->n_slices && !(d->packed = pack(d->out_c, d->k, w, is_signed)))
        return false;
    d->packed_by = pack;
    d->kp.packed = d->packed;
    return true;
}

/* After op_requant_prepare: the bias with the zero-point corrections folded in, conv_q8's requantization
 * arrays, and the packed filter (unless pack is false: the conv runs as Winograd, eval never reads it). */
static bool prepare_quantized(detc_prep *p, conv_data *d, bool pack)
{
    const detc_tensor *w = detc_prep_in(p, 1);
    d->bias_adj = calloc((size_t)d->out_c, sizeof *d->bias_adj);
    if (!d->bias_adj) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    for (int c = 0; c < d->out_c; c++) {
        int64_t colsum = 0;
        for (int k = 0; k < d->k; k++) {
            int64_t i = (int64_t)c * d->k + k;
            colsum += d->dtype == DETC_U8 ? ((const uint8_t *)w->data)[i] : ((const int8_t *)w->data)[i];
        }
        int64_t xz = d->rq.x_zp, wz = d->rq.w_zp[c];
        d->bias_adj[c] = (uint32_t)((int64_t)d->rq.bias[c] - xz * colsum + (int64_t)d->k * xz * wz);
        if (wz != 0)
            d->need_rowsum = true;
    }
    if (!op_requant_split(&d->rq)) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    d->kp = (detc_conv_q8_params){.n = d->out_c,
                                  .k = d->k,
                                  .is_signed = d->dtype == DETC_I8,
                                  .bias = (const int32_t *)d->bias_adj,
                                  .w_zp = d->need_rowsum ? d->rq.w_zp : NULL,
                                  .mult = d->rq.mult,
                                  .lshift = d->rq.lshift,
                                  .rshift = d->rq.rshift,
                                  .out_zp = d->rq.out_zp,
                                  .act_min = d->rq.act_min,
                                  .act_max = d->rq.act_max,
                                  .round_once = d->round_once};
    d->kp.frq = op_requant_float(&d->rq, d->round_once, &d->kp.frq_scale, &d->kp.frq_offset);
    /* for the table eval will run with; eval repacks if it is handed another */
    if (pack && !pack_filter(d, p->kernels ? p->kernels : &detc_kernels_portable, w->data)) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    return true;
}

/* The float filter packed for k's conv_f32: whole, or in channel slices when the output has more than twice
 * as many channels as pixels (CONV_F32_SLICE_C). False when memory runs out. */
static bool pack_f32(conv_data *d, const detc_kernels *k, const float *w)
{
    d->f32_packed_by = k->conv_f32_pack;
    d->n_slices = channel_slices(d, CONV_F32_SLICE_C, &d->slice_c);
    if (d->n_slices) {
        for (int s = 0; s < d->n_slices; s++) {
            d->slice_packed[s] = k->conv_f32_pack(slice_width(d, s), d->k, w + (size_t)s * d->slice_c * d->k);
            if (!d->slice_packed[s])
                return false;
        }
        return true;
    }
    d->f32_packed = k->conv_f32_pack(d->out_c, d->k, w);
    return d->f32_packed != NULL;
}

/* The conv's Winograd tiling (stride 1, 3x3) over its first `images` images. */
static wino_geom conv_wino_geometry(const conv_data *d, int images)
{
    return wino_geometry(d->in_h, d->in_w, d->win.out_h, d->win.out_w, d->win.pads.top, d->win.pads.left, images);
}

/* Float: the filter packed for the table's SIMD conv_f32 (none for the portable one: gemm_f32 is as fast
 * there, and a table without its own conv_f32 keeps its gemm_f32), and Winograd where it applies. The
 * filter must be a constant; a computed one takes the gemm_f32 path. */
static bool prepare_float(detc_prep *p, conv_data *d)
{
    const detc_tensor *w = detc_prep_in(p, 1);
    const detc_kernels *k = p->kernels ? p->kernels : &detc_kernels_portable;
    bool simd = k->conv_f32 && k->conv_f32 != detc_kernels_portable.conv_f32;
    int64_t t = (int64_t)CONV_F32_TILE_BYTES / ((int64_t)(d->k > 0 ? d->k : 1) * (int64_t)sizeof(float));
    d->tile_m = d->direct ? CONV_F32_TILE_DIRECT
                          : (int)(t < CONV_F32_TILE_MIN ? CONV_F32_TILE_MIN : t > CONV_F32_TILE_MAX ? CONV_F32_TILE_MAX : t);
    if (w->kind != DETC_TENSOR_CONSTANT || !w->data || d->out_c <= 0)
        return true;
    const op_window *wn = &d->win;
    d->use_wino = !p->no_winograd && d->k_h == 3 && d->k_w == 3 && wn->stride_h == 1 && wn->stride_w == 1 &&
                  wn->dil_h == 1 && wn->dil_w == 1 && d->in_c >= WINO_MIN_CHANNELS && d->out_c >= WINO_MIN_CHANNELS;
    bool ok;
    if (d->use_wino) {
        const wino_geom g = conv_wino_geometry(d, d->batch);
        ok = conv_wino_init(&d->wino, d->in_c, d->out_c, wino_tile_count(&g), w->data,
                            simd ? k->conv_f32_pack : NULL);
    } else if (simd) {
        ok = pack_f32(d, k, w->data);
    } else {
        ok = true;
    }
    if (!ok)
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
    return ok;
}

/* The int8 Winograd filter of this conv, packed for pack (a table's conv_s16_pack); x, w, out: the conv's input,
 * filter and output tensors. False when memory runs out. */
static bool init_wino_q8(conv_data *d, const detc_tensor *x, const detc_tensor *w, const detc_tensor *out,
                         void *(*pack)(int, int, const int16_t *))
{
    float *w_scale = malloc(sizeof(float) * (size_t)d->out_c);
    if (!w_scale)
        return false;
    for (int o = 0; o < d->out_c; o++)
        w_scale[o] = w->quant.scale[w->quant.count > 1 ? o : 0];
    const wino_geom g = conv_wino_geometry(d, d->batch);
    conv_wino_q8_spec s = {.ci = d->in_c,
                           .co = d->out_c,
                           .is_signed = d->dtype == DETC_I8,
                           .tiles = wino_tile_count(&g),
                           .filter = w->data,
                           .w_zp = d->rq.w_zp,
                           .bias = d->rq.bias,
                           .x_scale = x->quant.scale[0],
                           .out_scale = out->quant.scale[0],
                           .w_scale = w_scale,
                           .x_zp = d->rq.x_zp,
                           .out_zp = d->rq.out_zp,
                           .act_min = d->rq.act_min,
                           .act_max = d->rq.act_max};
    conv_wino_q8_release(&d->wino_q8);
    bool ok = conv_wino_q8_init(&d->wino_q8, &s, pack);
    free(w_scale);
    return ok;
}

/* Rows of a quantized GEMM call: every pixel of a direct conv's part, else an im2col tile. */
static int quant_tile_m(const conv_data *d)
{
    if (d->direct)
        return CONV_TILE_M_DIRECT;
    int t = CONV_Q8_TILE_BYTES / (d->k > 0 ? d->k : 1);
    return t < CONV_TILE_M ? CONV_TILE_M : t > CONV_Q8_TILE_MAX ? CONV_Q8_TILE_MAX : t;
}

static void plan_scratch(detc_prep *p, conv_data *d)
{
    size_t esize = detc_dtype_size(d->dtype);
    int tile = d->dtype == DETC_F32 ? d->tile_m : quant_tile_m(d);
    d->col_bytes = d->direct ? 0 : op_align((size_t)tile * (size_t)d->k * esize + IM2COL_SLACK);
    d->slot_bytes = d->col_bytes;
    if (d->use_wino) {
        size_t wb = op_align(conv_wino_scratch_bytes(&d->wino));
        d->slot_bytes = wb > d->slot_bytes ? wb : d->slot_bytes;
    }
    if (d->use_wino_q8) {
        size_t wb = op_align(conv_wino_q8_scratch_bytes(&d->wino_q8));
        d->slot_bytes = wb > d->slot_bytes ? wb : d->slot_bytes;
    }
    p->node->scratch_bytes = d->slot_bytes * OP_MAX_PARTS;
}

/* Reports every problem at once: operand dtypes and ranks, channel counts, attributes, the output's
 * declaration and (quantized) every operand's quantization are checked whenever their own operands allow,
 * not only when everything before them passed. */
static bool conv_prepare(detc_prep *p)
{
    conv_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    bool attrs_ok = op_parse_window_attrs(p, &d->win);
    int64_t groups = 1;
    attrs_ok = detc_attr_int(p, "groups", false, 1, 1, 1 << 20, &groups) && attrs_ok;
    d->groups = (int)groups;
    static const char *const roundings[] = {"double", "single", NULL};
    int rounding = 0;
    attrs_ok = detc_attr_enum(p, "rounding", false, 0, roundings, &rounding) && attrs_ok;
    d->round_once = rounding == 1;
    static const char *const winograds[] = {"int16", NULL};
    int winograd = -1;
    attrs_ok = detc_attr_enum(p, "winograd", false, -1, winograds, &winograd) && attrs_ok;
    conv_operands o = {0};
    bool ok = check_operands(p, &o) && attrs_ok;
    if (!o.x_ok || !o.w_ok)
        return false; /* no geometry without a rank-4 input and filter */
    if (d->round_once && !o.quantized) {
        /* a float conv does not requantize: "single" there is a converter's mistake, not a no-op to ignore */
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'rounding' \"single\" applies to quantized (u8/i8) convs only; this conv is %s",
                        detc_dtype_name(detc_prep_in(p, 0)->dtype));
        ok = false;
    }
    const detc_tensor *xw = detc_prep_in(p, 1);
    if (winograd == 0 && (!o.quantized || groups > 1 || xw->dims[1] != 3 || xw->dims[2] != 3 || d->win.stride_h != 1 ||
                          d->win.stride_w != 1 || d->win.dil_h != 1 || d->win.dil_w != 1)) {
        /* the int16 transforms are defined for quantized ungrouped 3x3 stride-1 convs only */
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'winograd' \"int16\" applies to quantized (u8/i8) ungrouped 3x3 convs with stride 1 "
                        "and dilation 1; this conv is %s, groups %d, kernel %dx%d, stride %dx%d, dilation %dx%d; fix: "
                        "drop the attribute from this conv",
                        detc_dtype_name(detc_prep_in(p, 0)->dtype), (int)groups, (int)xw->dims[1], (int)xw->dims[2],
                        d->win.stride_h, d->win.stride_w, d->win.dil_h, d->win.dil_w);
        ok = false;
    }
    if (groups > 1 && o.quantized) {
        detc_prep_error(p, DETC_ERR_UNSUPPORTED, "grouped conv2d (groups %d) is f32 only; dequantize the model",
                        (int)groups);
        ok = false;
    }
    ok = check_shapes(p, &o, d->groups) && ok;
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1);
    if (!attrs_ok || !op_parse_window_padding(p, x->dims[1], x->dims[2], w->dims[1], w->dims[2], &d->win))
        return false;
    fill_geometry(d, x, w);
    if ((int64_t)d->k > max_depth(d->dtype)) {
        detc_prep_error(p, DETC_ERR_UNSUPPORTED,
                        "the filter window holds %d values (KH x KW x Ci), more than the %lld a %s conv can "
                        "accumulate in int32; split the conv",
                        d->k, (long long)max_depth(d->dtype), detc_dtype_name(d->dtype));
        ok = false;
    }
    int32_t dims[4] = {d->batch, d->win.out_h, d->win.out_w, d->out_c};
    ok = detc_prep_set_output(p, 0, d->dtype, 4, dims, NULL, o.quantized) && ok;
    if (o.quantized && o.types_ok && o.b_rank_ok) {
        /* validates input, filter, bias and output quantization even when something above failed */
        bool q_ok = op_requant_prepare(p, d->out_c, 0, d->win.act, &d->rq);
        /* the zero-point corrections read the filter and bias data: only when every check passed */
        ok = q_ok && ok && prepare_quantized(p, d, !(winograd == 0 && !p->no_winograd));
    }
    if (!ok)
        return false;
    detc_activation_range_f(d->win.act, &d->act_lo, &d->act_hi);
    if (d->groups > 1) {
        d->k = d->k_h * d->k_w * (d->in_c / d->groups); /* one filter's window */
        d->slot_bytes = op_align((size_t)CONV_TILE_M * (size_t)d->k * sizeof(float));
        p->node->scratch_bytes = d->slot_bytes * OP_MAX_PARTS;
        return true;
    }
    if (d->dtype == DETC_F32 && !prepare_float(p, d))
        return false;
    if (winograd == 0 && !p->no_winograd) {
        const detc_kernels *k = p->kernels ? p->kernels : &detc_kernels_portable;
        d->use_wino_q8 = true;
        if (!init_wino_q8(d, x, w, detc_out(p->g, p->node, 0), k->conv_s16_pack)) {
            detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
            return false;
        }
    }
    /* the filter lives on in its packed (or Winograd-transformed) copy: eval does not read the tensor */
    if (d->dtype != DETC_F32 || d->use_wino || d->f32_packed)
        detc_prep_copied_input(p, 1);
    plan_scratch(p, d);
    return true;
}

/* ---------------- eval ---------------- */

typedef struct {
    const conv_data *d;
    const detc_kernels *kernels;
    const uint8_t *x;   /* input bytes */
    const void *w;
    const float *bias_f32;
    uint8_t *out;
    uint8_t *scratch;
    int64_t pixels;
    int parts;
    bool f32_packed;    /* the table is the one the filter was packed for: conv_f32 with fused bias and clamp */
    conv_wino_job wino; /* Winograd: parts split the tiles */
    int64_t tiles;
} conv_job;

/* memcpy for im2col's short runs (a 3-channel first layer copies 36 bytes per kernel row: a libc call
 * each cost more than the copying): fixed-size pieces, the last one overlapping the one before. */
static inline void copy_run(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n > 256) {
        memcpy(dst, src, n);
    } else if (n >= 16) {
        for (size_t i = 0; i + 16 < n; i += 16)
            memcpy(dst + i, src + i, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        if (n >= 8)
            memcpy(dst + 4, src + 4, 4);
        if (n >= 12)
            memcpy(dst + 8, src + 8, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else {
        for (; n; n--)
            *dst++ = *src++;
    }
}

/* Writes the receptive fields of output pixels [p0, p0 + m) as rows of K elements. */
static void im2col(const conv_data *d, const uint8_t *x, int64_t p0, int m, uint8_t *col, size_t esize, int pad)
{
    /* the geometry in locals: the byte stores below may alias *d, which would otherwise be reread */
    const op_window wn = d->win;
    const int in_h = d->in_h, in_w = d->in_w, k_h = d->k_h, k_w = d->k_w;
    const size_t row_bytes = (size_t)d->k * esize, run = (size_t)d->in_c * esize;
    const int64_t per_image = (int64_t)wn.out_h * wn.out_w, line = (int64_t)in_w * (int64_t)run;
    /* the first pixel's coordinates, then stepped (no divisions per pixel) */
    int n = (int)(p0 / per_image), oy = (int)(p0 % per_image / wn.out_w), ox = (int)(p0 % wn.out_w);
    /* a kernel row of at most 16 bytes (3x3 on 3 u8 channels: 9) is copied as 16: the bytes past it are
     * rewritten by the next run, or land in the tile's IM2COL_SLACK; the source must have 16 bytes left */
    const size_t seg = run * (size_t)k_w;
    const uint8_t *x_end = x + (int64_t)d->batch * in_h * line;
    const int64_t ystep = (int64_t)wn.dil_h * line, xstep = (int64_t)wn.stride_w * (int64_t)run;
    /* the first output column whose window reaches past the input's right edge (dil_w 1) */
    const int lim = in_w - k_w + 1 + wn.pads.left, ox_in_end = lim > 0 ? (lim + wn.stride_w - 1) / wn.stride_w : 0;
    for (int i = 0; i < m; i++) {
        uint8_t *row = col + (size_t)i * row_bytes;
        int ix0 = ox * wn.stride_w - wn.pads.left, ix1 = ix0 + (k_w - 1) * wn.dil_w;
        bool whole_rows = wn.dil_w == 1 && ix0 >= 0 && ix1 < in_w; /* the KW taps are adjacent pixels */
        const uint8_t *image = x + (int64_t)n * in_h * line;
        const int iy0 = oy * wn.stride_h - wn.pads.top;
        if (whole_rows && iy0 >= 0 && iy0 + (k_h - 1) * wn.dil_h < in_h) {
            /* a run of this output row's pixels whose windows lie inside the input: the same KH source
             * rows, each window xstep bytes right of the one before (no per-pixel bounds) */
            const int cnt = ox_in_end - ox < m - i ? ox_in_end - ox : m - i;
            const uint8_t *src = image + iy0 * line + ix0 * (int64_t)run;
            if (seg <= 16 && x_end - (src + (k_h - 1) * ystep + (int64_t)(cnt - 1) * xstep) >= 16) {
                for (int e = 0; e < cnt; e++, row += row_bytes, src += xstep)
                    for (int ky = 0; ky < k_h; ky++)
                        memcpy(row + (size_t)ky * seg, src + ky * ystep, 16); /* in order: see above */
            } else {
                for (int e = 0; e < cnt; e++, row += row_bytes, src += xstep)
                    for (int ky = 0; ky < k_h; ky++)
                        copy_run(row + (size_t)ky * seg, src + ky * ystep, seg);
            }
            i += cnt - 1;
            ox += cnt - 1; /* the last of the run; stepped below with the others */
        } else {
            for (int ky = 0; ky < k_h; ky++) {
                int iy = iy0 + ky * wn.dil_h;
                if (whole_rows && iy >= 0 && iy < in_h) {
                    const uint8_t *src = image + iy * line + ix0 * (int64_t)run;
                    if (seg <= 16 && x_end - src >= 16)
                        memcpy(row, src, 16);
                    else
                        copy_run(row, src, seg);
                    row += seg;
                    continue;
                }
                for (int kx = 0; kx < k_w; kx++, row += run) {
                    int ix = ix0 + kx * wn.dil_w;
                    if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w)
                        memset(row, pad, run);
                    else
                        copy_run(row, image + iy * line + ix * (int64_t)run, run);
                }
            }
        }
        if (++ox == wn.out_w) {
            ox = 0;
            if (++oy == wn.out_h) {
                oy = 0;
                n++;
            }
        }
    }
}

/* The GEMM's A rows for pixels [p0, p0 + m): in place for direct convs, else an im2col tile. */
static const uint8_t *rows_for(const conv_job *j, uint8_t *col, int64_t p0, int m, size_t esize, int pad)
{
    if (j->d->direct)
        return j->x + p0 * (int64_t)j->d->k * (int64_t)esize;
    im2col(j->d, j->x, p0, m, col, esize, pad);
    return col;
}

/* Pixels [p0, p0 + m) of channel slices [s0, s1) (a sliced filter, j->f32_packed). */
static void tile_f32_slices(const conv_job *j, uint8_t *slot, int64_t p0, int m, int s0, int s1)
{
    const conv_data *d = j->d;
    const float *a = (const float *)rows_for(j, slot, p0, m, sizeof(float), 0);
    float *out = (float *)j->out + p0 * d->out_c;
    for (int s = s0; s < s1; s++) {
        int c0 = s * d->slice_c;
        detc_conv_f32_params prm = {.n = slice_width(d, s), .k = d->k, .packed = d->slice_packed[s],
                                    .bias = j->bias_f32 ? j->bias_f32 + c0 : NULL,
                                    .act_lo = d->act_lo, .act_hi = d->act_hi};
        j->kernels->conv_f32(&prm, m, a, d->k, out + c0, d->out_c);
    }
}

static void tile_f32(const conv_job *j, uint8_t *slot, int64_t p0, int m)
{
    const conv_data *d = j->d;
    if (j->f32_packed && d->n_slices > 1) {
        tile_f32_slices(j, slot, p0, m, 0, d->n_slices);
        return;
    }
    const float *a = (const float *)rows_for(j, slot, p0, m, sizeof(float), 0);
    float *out = (float *)j->out + p0 * d->out_c;
    if (j->f32_packed) {
        detc_conv_f32_params prm = {.n = d->out_c, .k = d->k, .packed = d->f32_packed, .bias = j->bias_f32,
                                    .act_lo = d->act_lo, .act_hi = d->act_hi};
        j->kernels->conv_f32(&prm, m, a, d->k, out, d->out_c);
        return;
    }
    j->kernels->gemm_f32(m, d->out_c, d->k, a, d->k, j->w, d->k, out, d->out_c);
    for (int i = 0; i < m; i++)
        for (int c = 0; c < d->out_c; c++) {
            float v = out[(size_t)i * d->out_c + c] + (j->bias_f32 ? j->bias_f32[c] : 0.0f);
            v = v < d->act_lo ? d->act_lo : v;
            out[(size_t)i * d->out_c + c] = v > d->act_hi ? d->act_hi : v;
        }
}

static void tile_quant(const conv_job *j, uint8_t *slot, int64_t p0, int m)
{
    const conv_data *d = j->d;
    const uint8_t *a = rows_for(j, slot, p0, m, 1, (int)(uint8_t)d->rq.x_zp);
    d->conv_fn(&d->kp, m, a, d->k, j->out + p0 * d->out_c, d->out_c);
}

/* Pixels [p0, p0 + m) of channel slices [s0, s1) (a quantized sliced filter): one im2col tile for all of them. */
static void tile_quant_slices(const conv_job *j, uint8_t *slot, int64_t p0, int m, int s0, int s1)
{
    const conv_data *d = j->d;
    const uint8_t *a = rows_for(j, slot, p0, m, 1, (int)(uint8_t)d->rq.x_zp);
    for (int s = s0; s < s1; s++) {
        int c0 = s * d->slice_c;
        detc_conv_q8_params prm = d->kp;
        prm.n = slice_width(d, s);
        prm.packed = d->slice_packed[s];
        prm.bias += c0;
        prm.w_zp = prm.w_zp ? prm.w_zp + c0 : NULL;
        prm.mult += c0;
        prm.lshift += c0;
        prm.rshift += c0;
        d->conv_fn(&prm, m, a, d->k, j->out + p0 * d->out_c + c0, d->out_c);
    }
}

static void run_parts(void *ctx, int begin, int end)
{
    const conv_job *j = ctx;
    for (int part = begin; part < end; part++) {
        uint8_t *slot = j->scratch ? j->scratch + (size_t)part * j->d->slot_bytes : NULL;
        int64_t p = j->pixels * part / j->parts, p_end = j->pixels * (part + 1) / j->parts;
        int tile = j->d->dtype == DETC_F32 ? j->d->tile_m : quant_tile_m(j->d);
        for (; p < p_end; p += tile) {
            int m = (int)(p_end - p < tile ? p_end - p : tile);
            if (j->d->dtype == DETC_F32)
                tile_f32(j, slot, p, m);
            else
                tile_quant(j, slot, p, m);
        }
    }
}

/* Sliced filter (float or quantized): part p computes every pixel for its share of the slices. */
static void run_slice_parts(void *ctx, int begin, int end)
{
    const conv_job *j = ctx;
    const conv_data *d = j->d;
    for (int part = begin; part < end; part++) {
        uint8_t *slot = j->scratch ? j->scratch + (size_t)part * d->slot_bytes : NULL;
        int s0 = d->n_slices * part / j->parts, s1 = d->n_slices * (part + 1) / j->parts;
        int tile = d->dtype == DETC_F32 ? d->tile_m : quant_tile_m(d);
        for (int64_t p = 0; p < j->pixels; p += tile) {
            int m = (int)(j->pixels - p < tile ? j->pixels - p : tile);
            if (d->dtype == DETC_F32)
                tile_f32_slices(j, slot, p, m, s0, s1);
            else
                tile_quant_slices(j, slot, p, m, s0, s1);
        }
    }
}

/* Grouped f32 conv: for a tile of output pixels and each group, the receptive fields over the group's Ci/G
 * input channels as rows of K/G... values (group_im2col), times the group's Co/G filters (one GEMM writing the
 * group's output columns in place, ldc = Co); then bias and activation. */
static void group_im2col(const conv_data *d, const float *x, int64_t p0, int m, int g, float *col)
{
    const op_window *wn = &d->win;
    int cig = d->in_c / d->groups;
    int64_t per_image = (int64_t)wn->out_h * wn->out_w;
    for (int i = 0; i < m; i++) {
        int64_t pix = p0 + i;
        int n = (int)(pix / per_image);
        int oy = (int)(pix % per_image / wn->out_w), ox = (int)(pix % wn->out_w);
        float *row = col + (size_t)i * d->k;
        for (int ky = 0; ky < d->k_h; ky++) {
            int iy = oy * wn->stride_h - wn->pads.top + ky * wn->dil_h;
            for (int kx = 0; kx < d->k_w; kx++, row += cig) {
                int ix = ox * wn->stride_w - wn->pads.left + kx * wn->dil_w;
                if (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w)
                    memset(row, 0, (size_t)cig * sizeof *row);
                else
                    memcpy(row, x + (((int64_t)n * d->in_h + iy) * d->in_w + ix) * d->in_c + (int64_t)g * cig,
                           (size_t)cig * sizeof *row);
            }
        }
    }
}

static void grouped_parts(void *ctx, int begin, int end)
{
    const conv_job *j = ctx;
    const conv_data *d = j->d;
    const float *x = (const float *)(const void *)j->x, *w = j->w;
    float *out = (float *)(void *)j->out;
    int cog = d->out_c / d->groups;
    for (int part = begin; part < end; part++) {
        float *col = (float *)(void *)(j->scratch + (size_t)part * d->slot_bytes);
        int64_t p = j->pixels * part / j->parts, p_end = j->pixels * (part + 1) / j->parts;
        for (; p < p_end; p += CONV_TILE_M) {
            int m = (int)(p_end - p < CONV_TILE_M ? p_end - p : CONV_TILE_M);
            float *o = out + p * d->out_c;
            for (int g = 0; g < d->groups; g++) {
                group_im2col(d, x, p, m, g, col);
                j->kernels->gemm_f32(m, cog, d->k, col, d->k, w + (size_t)g * cog * d->k, d->k, o + (size_t)g * cog,
                                     d->out_c);
            }
            for (int i = 0; i < m; i++)
                for (int c = 0; c < d->out_c; c++) {
                    float v = o[(size_t)i * d->out_c + c] + (j->bias_f32 ? j->bias_f32[c] : 0.0f);
                    v = v < d->act_lo ? d->act_lo : v;
                    o[(size_t)i * d->out_c + c] = v > d->act_hi ? d->act_hi : v;
                }
        }
    }
}

static detc_code conv_eval_grouped(const detc_exec *x, detc_node *node, const conv_data *d)
{
    const detc_tensor *b = detc_in(x->g, node, 2);
    conv_job j = {
        .d = d,
        .kernels = x->kernels,
        .x = detc_in(x->g, node, 0)->data,
        .w = detc_in(x->g, node, 1)->data,
        .bias_f32 = b ? b->data : NULL,
        .out = detc_out(x->g, node, 0)->data,
        .scratch = x->scratch,
    };
    if (!x->scratch)
        return DETC_ERR_RUNTIME;
    int rows = op_row_count(x, node, 3, d->batch);
    int64_t per_row = (int64_t)d->win.out_h * d->win.out_w;
    j.pixels = rows * per_row;
    int64_t macs_per_pixel = (int64_t)d->k * d->out_c, min_pixels = CONV_MIN_MACS_PER_PART / macs_per_pixel;
    j.parts = op_parts(x, j.pixels, min_pixels > CONV_MIN_PIXELS_PER_PART ? min_pixels : CONV_MIN_PIXELS_PER_PART);
    if (j.pixels > 0)
        detc_parallel_for(x->pool, j.parts, 1, grouped_parts, &j);
    memset(j.out + (size_t)j.pixels * d->out_c * sizeof(float), 0,
           (size_t)((d->batch - rows) * per_row) * d->out_c * sizeof(float));
    return DETC_OK;
}

static void run_wino_parts(void *ctx, int begin, int end)
{
    const conv_job *j = ctx;
    for (int part = begin; part < end; part++)
        conv_wino_run(&j->wino, j->tiles * part / j->parts, j->tiles * (part + 1) / j->parts,
                      j->scratch + (size_t)part * j->d->slot_bytes);
}

/* Winograd over the first `rows` images: parts split the tiles, each at least a block's worth. */
static void eval_wino(const detc_exec *x, conv_job *j, int rows)
{
    const conv_data *d = j->d;
    j->wino = (conv_wino_job){.w = &d->wino,
                              .kernels = x->kernels,
                              .g = conv_wino_geometry(d, rows),
                              .x = (const float *)j->x,
                              .bias = j->bias_f32,
                              .act_lo = d->act_lo,
                              .act_hi = d->act_hi,
                              .out = (float *)j->out};
    j->tiles = wino_tile_count(&j->wino.g);
    j->parts = op_parts(x, j->tiles, d->wino.tiles_per_block);
    if (j->tiles > 0)
        detc_parallel_for(x->pool, j->parts, 1, run_wino_parts, j);
}

typedef struct {
    conv_wino_q8_job job;
    int64_t tiles;
    int parts;
    uint8_t *scratch;
    size_t slot_bytes;
} wino_q8_parts;

static void run_wino_q8_parts(void *ctx, int begin, int end)
{
    const wino_q8_parts *j = ctx;
    for (int part = begin; part < end; part++)
        conv_wino_q8_run(&j->job, j->tiles * part / j->parts, j->tiles * (part + 1) / j->parts,
                         j->scratch + (size_t)part * j->slot_bytes);
}

/* int8 Winograd over the first `rows` images (parts split the tiles, each at least a block's worth); rows past
 * the count get the output zero point. */
static detc_code eval_wino_q8(const detc_exec *x, detc_node *node, conv_data *d)
{
    /* eval runs with another table than prepare packed for (tests pick tables per run): repack once */
    if (x->kernels->conv_s16_pack != d->wino_q8.packed_by &&
        !init_wino_q8(d, detc_in(x->g, node, 0), detc_in(x->g, node, 1), detc_out(x->g, node, 0),
                      x->kernels->conv_s16_pack))
        return DETC_ERR_NOMEM;
    if (!x->scratch)
        return DETC_ERR_RUNTIME;
    int rows = op_row_count(x, node, 3, d->batch);
    wino_q8_parts j = {.job = {.w = &d->wino_q8,
                               .kernels = x->kernels,
                               .g = conv_wino_geometry(d, rows),
                               .x = detc_in(x->g, node, 0)->data,
                               .out = detc_out(x->g, node, 0)->data},
                       .scratch = x->scratch,
                       .slot_bytes = d->slot_bytes};
    j.tiles = wino_tile_count(&j.job.g);
    j.parts = op_parts(x, j.tiles, d->wino_q8.tiles_per_block);
    if (j.tiles > 0)
        detc_parallel_for(x->pool, j.parts, 1, run_wino_q8_parts, &j);
    int64_t per_row = (int64_t)d->win.out_h * d->win.out_w;
    memset((uint8_t *)detc_out(x->g, node, 0)->data + (size_t)(rows * per_row) * d->out_c, (int)(uint8_t)d->rq.out_zp,
           (size_t)((d->batch - rows) * per_row) * d->out_c);
    return DETC_OK;
}

static detc_code conv_eval(const detc_exec *x, detc_node *node)
{
    conv_data *d = node->op_data;
    if (d->groups > 1)
        return conv_eval_grouped(x, node, d);
    if (d->use_wino_q8)
        return eval_wino_q8(x, node, d);
    /* eval runs with another table than prepare packed for (tests pick tables per run): repack once */
    if (d->dtype != DETC_F32 && x->kernels->conv_q8_pack != d->packed_by &&
        !pack_filter(d, x->kernels, detc_in(x->g, node, 1)->data))
        return DETC_ERR_NOMEM;
    const detc_tensor *b = detc_in(x->g, node, 2);
    conv_job j = {
        .d = d,
        .kernels = x->kernels,
        .x = detc_in(x->g, node, 0)->data,
        .w = detc_in(x->g, node, 1)->data,
        .bias_f32 = b && d->dtype == DETC_F32 ? b->data : NULL,
        .out = detc_out(x->g, node, 0)->data,
        .scratch = x->scratch,
    };
    if (d->slot_bytes && !x->scratch)
        return DETC_ERR_RUNTIME;
    int rows = op_row_count(x, node, 3, d->batch);
    int64_t per_row = (int64_t)d->win.out_h * d->win.out_w;
    j.pixels = rows * per_row;
    j.f32_packed = (d->f32_packed || d->n_slices > 1) && x->kernels->conv_f32_pack == d->f32_packed_by;
    /* Winograd: with the filter packed for this table, or raw (any table's gemm_f32) */
    if (d->use_wino && (d->wino.packed_by ? x->kernels->conv_f32_pack == d->wino.packed_by : d->wino.raw != NULL)) {
        eval_wino(x, &j, rows);
    } else if (d->n_slices > 1 && (j.f32_packed || d->dtype != DETC_F32)) {
        int64_t macs = j.pixels * d->k * d->out_c;
        j.parts = op_parts(x, d->n_slices, 1);
        if (j.parts > macs / CONV_MIN_MACS_PER_PART)
            j.parts = macs / CONV_MIN_MACS_PER_PART > 1 ? (int)(macs / CONV_MIN_MACS_PER_PART) : 1;
        if (j.pixels > 0)
            detc_parallel_for(x->pool, j.parts, 1, run_slice_parts, &j);
    } else {
        int64_t macs_per_pixel = (int64_t)d->k * d->out_c, min_pixels = CONV_MIN_MACS_PER_PART / macs_per_pixel;
        j.parts = op_parts(x, j.pixels, min_pixels > CONV_MIN_PIXELS_PER_PART ? min_pixels : CONV_MIN_PIXELS_PER_PART);
        if (j.pixels > 0)
            detc_parallel_for(x->pool, j.parts, 1, run_parts, &j);
    }
    size_t esize = detc_dtype_size(d->dtype);
    /* rows past the count: real 0 (all-zero bytes for f32, the zero point when quantized) */
    memset(j.out + (size_t)j.pixels * d->out_c * esize, d->dtype == DETC_F32 ? 0 : (int)(uint8_t)d->rq.out_zp,
           (size_t)((d->batch - rows) * per_row) * d->out_c * esize);
    return DETC_OK;
}

const detc_op detc_op_conv2d = {
    .name = "conv2d",
    .min_inputs = 2,
    .max_inputs = 4,
    .n_outputs = 1,
    .prepare = conv_prepare,
    .eval = conv_eval,
    .release = conv_release,
};
