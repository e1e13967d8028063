/* roi_align: torchvision's RoIAlign / MultiScaleRoIAlign (ops/roi_align.py, ops/poolers.py, CPU kernel
 * csrc/ops/cpu/roi_align_kernel.cpp) and TensorFlow's crop_and_resize, NHWC, batch 1.
 *
 * Inputs: boxes [R, 4] f32, count i32 [1] (rows >= count are ignored and give zeros), then 1..8 feature
 * maps P_k [1, h_k, w_k, C] (same C). Output [R, SH, SW, C].
 *
 * mode "torchvision" (default): boxes (x0, y0, x1, y1) in image pixels.
 *   Level (more than one map; torchvision's LevelMapper, in float):
 *     k = floor((canonical_level + log2(sqrt(area) / canonical_scale)) + 1e-6), area = (x1-x0)*(y1-y0),
 *     clamped to [k_min, k_max] with k_min = -log2(spatial_scales[0]), k_max = -log2(spatial_scales[last]);
 *     the box is pooled from map k - k_min. One map: plain RoIAlign on it.
 *   Per box, with s = that map's spatial scale and o = aligned ? 0.5 : 0:
 *     start = (x0*s - o, y0*s - o), size = (x1*s - o - start_x, ...), forced >= 1 when !aligned;
 *     bin = size / (SH, SW); grid = sampling_ratio > 0 ? sampling_ratio : ceil(size / (SH, SW));
 *     each bin is the mean of grid_h x grid_w bilinear samples at
 *       y = start_y + ph*bin_h + (iy + 0.5)*bin_h/grid_h  (likewise x), divided by max(grid_h*grid_w, 1);
 *     samples outside [-1, h] x [-1, w] count as 0, others are clamped to the map as in the kernel.
 *   The float operations are done in torchvision's order, so results match its CPU kernel closely
 *   (only the order of the per-channel sum is the same; it is not fused).
 * mode "tf_crop_and_resize": one map; boxes (y0, x0, y1, x1) normalised to [0, 1] over the map;
 *   tf.image.crop_and_resize(method="bilinear") semantics (samples at y0*(h-1) + i*(y1-y0)*(h-1)/(SH-1),
 *   outside [0, h-1] -> extrapolation_value, default 0); sampling_ratio and aligned are unused.
 *
 * Attributes: output_size (S or [SH, SW], required), sampling_ratio (default 2; <= 0 adaptive), aligned
 * (false), spatial_scales (list, one per map; required in torchvision mode), canonical_scale (224),
 * canonical_level (4), mode, extrapolation_value (tf_crop_and_resize only; default 0). Boxes are split across
 * the thread pool.
 *
 * Quantized (torchvision mode): u8 or i8 feature maps (all one dtype, each with its own per-tensor scale and
 * zero point) give an output of that dtype with its declared parameters. Each bin is computed exactly as the
 * f32 op computes it on the dequantized maps (every sample reads scale * (float)(q - zp), the same float
 * operations in the same order), then quantized as cast does (kernels.h quantize_q8): the result equals
 * dequantize -> f32 roi_align -> quantize bit for bit, without the f32 copies of the maps and the f32 output.
 * Rows >= count give the output zero point (the quantized 0). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "nms_util.h"
#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

#define RA_MAX_MAPS 8

enum { RA_TORCHVISION = 0, RA_TF_CROP = 1 };

typedef struct {
    int mode;
    int rois, out_h, out_w, channels, n_maps;
    int sampling_ratio;
    bool aligned;
    float scales[RA_MAX_MAPS];
    int map_h[RA_MAX_MAPS], map_w[RA_MAX_MAPS];
    int k_min, k_max;
    float canonical_scale, canonical_level;
    float extrapolation; /* tf_crop_and_resize */
    /* quantized maps and output */
    bool q8, is_signed;
    float map_scale[RA_MAX_MAPS], out_scale;
    int32_t map_zp[RA_MAX_MAPS], out_zp;
    int region_pixels; /* the largest region ra_pick_source dequantizes */
} ra_data;

#define RA_REGION_FLOATS (1 << 18) /* 1 MiB of scratch per parallel part for a dequantized region */

/* ---------------- prepare ---------------- */

static bool parse_output_size(detc_prep *p, int *sh, int *sw)
{
    const cJSON *v = detc_attr_get(p, "output_size");
    int64_t pair[2];
    if (v && cJSON_IsArray(v)) {
        if (!detc_attr_ints(p, "output_size", true, 2, 2, NULL, 1, 1024, pair, NULL))
            return false;
    } else {
        if (!detc_attr_int(p, "output_size", true, 7, 1, 1024, &pair[0]))
            return false;
        pair[1] = pair[0];
    }
    *sh = (int)pair[0];
    *sw = (int)pair[1];
    return true;
}

/* -log2(s) for s an exact power of two 2^-k (k >= 0); -1 otherwise. */
static int level_of_scale(float s)
{
    for (int k = 0; k < 31; k++)
        if (s == ldexpf(1.0f, -k))
            return k;
    return -1;
}

static bool parse_attrs(detc_prep *p, ra_data *d)
{
    static const char *const modes[] = {"torchvision", "tf_crop_and_resize", NULL};
    int64_t sr, cl;
    double cs;
    bool ok = parse_output_size(p, &d->out_h, &d->out_w);
    ok = detc_attr_enum(p, "mode", false, RA_TORCHVISION, modes, &d->mode) && ok;
    ok = detc_attr_int(p, "sampling_ratio", false, 2, -1, 64, &sr) && ok;
    ok = detc_attr_bool(p, "aligned", false, &d->aligned) && ok;
    ok = detc_attr_float(p, "canonical_scale", false, 224.0, 1e-6, 1e9, &cs) && ok;
    ok = detc_attr_int(p, "canonical_level", false, 4, 0, 30, &cl) && ok;
    int n_scales = 0;
    ok = nms_attr_float_list(p, "spatial_scales", d->mode == RA_TORCHVISION, RA_MAX_MAPS, d->scales, &n_scales) && ok;
    d->sampling_ratio = (int)sr;
    d->canonical_scale = (float)cs;
    d->canonical_level = (float)cl;
    if (d->mode == RA_TF_CROP) {
        double ev;
        ok = detc_attr_float(p, "extrapolation_value", false, 0.0, -3.4e38, 3.4e38, &ev) && ok;
        d->extrapolation = (float)ev;
    } else if (detc_attr_get(p, "extrapolation_value")) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'extrapolation_value' applies to mode \"tf_crop_and_resize\" only (torchvision "
                        "mode counts samples outside the map as 0); drop it");
        ok = false;
    }
    if (!ok)
        return false;
    if (d->mode == RA_TORCHVISION && n_scales != d->n_maps) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'spatial_scales' has %d entries but the node has %d feature maps; give one scale "
                        "per map (feature size / image size, e.g. 0.25 for a stride-4 map)",
                        n_scales, d->n_maps);
        return false;
    }
    for (int i = 0; i < n_scales; i++)
        if (!(d->scales[i] > 0.0f)) {
            detc_prep_error(p, DETC_ERR_ATTR, "attribute 'spatial_scales'[%d] is %g, expected a positive number", i,
                            (double)d->scales[i]);
            return false;
        }
    if (d->mode == RA_TF_CROP && d->n_maps != 1) {
        detc_prep_error(p, DETC_ERR_UNSUPPORTED,
                        "mode \"tf_crop_and_resize\" pools from exactly one feature map, the node has %d; give it "
                        "one map (or use mode \"torchvision\" for multi-level pooling)",
                        d->n_maps);
        return false;
    }
    if (d->mode == RA_TORCHVISION && d->n_maps > 1) {
        d->k_min = level_of_scale(d->scales[0]);
        d->k_max = level_of_scale(d->scales[d->n_maps - 1]);
        bool consecutive = d->k_min >= 0 && d->k_max >= 0 && d->k_max - d->k_min + 1 == d->n_maps;
        for (int i = 0; consecutive && i < d->n_maps; i++)
            consecutive = level_of_scale(d->scales[i]) == d->k_min + i;
        if (!consecutive) {
            detc_prep_error(p, DETC_ERR_ATTR,
                            "multi-level pooling needs spatial_scales that halve from map to map (2^-k_min, "
                            "2^-(k_min+1), ...), as torchvision's MultiScaleRoIAlign assumes; found %g .. %g for %d "
                            "maps",
                            (double)d->scales[0], (double)d->scales[d->n_maps - 1], d->n_maps);
            return false;
        }
    }
    return true;
}

static bool check_operands(detc_prep *p, ra_data *d)
{
    bool ok = true;
    int n = p->node->n_inputs;
    if (n < 3 || n > 2 + RA_MAX_MAPS) {
        detc_prep_error(p, DETC_ERR_GRAPH,
                        "has %d inputs; roi_align takes boxes, count and 1..%d feature maps; see ops/README.md", n,
                        RA_MAX_MAPS);
        return false;
    }
    for (int i = 0; i < n; i++)
        if (!detc_prep_require_input(p, i, i == 0 ? "boxes" : i == 1 ? "count" : "feature map"))
            return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32), "boxes must be f32 [R, 4]") && ok;
    ok = detc_prep_dtype(p, 1, DETC_MASK(DETC_I32),
                         "count must be i32 [1], as rpn_proposals / box_detections give it") &&
         ok;
    ok = detc_prep_rank(p, 0, 2, 2) && ok;
    ok = detc_prep_rank(p, 1, 1, 1) && ok;
    for (int i = 2; i < n; i++) {
        ok = detc_prep_dtype(p, i, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                             "roi_align takes f32 feature maps, or quantized u8/i8 ones") &&
             ok;
        ok = detc_prep_rank(p, i, 4, 4) && ok;
    }
    if (!ok)
        return false;
    detc_dtype mdt = detc_prep_in(p, 2)->dtype;
    d->q8 = mdt != DETC_F32;
    d->is_signed = mdt == DETC_I8;
    for (int i = 3; i < n; i++)
        if (detc_prep_in(p, i)->dtype != mdt) {
            char desc[600];
            detc_prep_operand_desc(p, i, desc, sizeof desc);
            detc_prep_error(p, DETC_ERR_DTYPE, "%s is %s but feature map 0 is %s; all feature maps must have one dtype",
                            desc, detc_dtype_name(detc_prep_in(p, i)->dtype), detc_dtype_name(mdt));
            ok = false;
        }
    for (int i = 2; d->q8 && i < n; i++) {
        if (!op_require_per_tensor_quant(p, i, "feature map")) {
            ok = false;
            continue;
        }
        d->map_scale[i - 2] = detc_prep_in(p, i)->quant.scale[0];
        d->map_zp[i - 2] = detc_prep_in(p, i)->quant.zero_point[0];
    }
    if (!ok)
        return false;
    const detc_tensor *b = detc_prep_in(p, 0), *c = detc_prep_in(p, 1), *m0 = detc_prep_in(p, 2);
    char bs[128], ms[128];
    detc_shape_str(b->rank, b->dims, bs, sizeof bs);
    if (b->dims[0] < 1 || b->dims[1] != 4) {
        detc_prep_error(p, DETC_ERR_SHAPE, "boxes %s must be [R, 4] with R >= 1", bs);
        ok = false;
    }
    if (c->dims[0] != 1) {
        detc_prep_error(p, DETC_ERR_SHAPE, "count must have shape [1], found [%d]", (int)c->dims[0]);
        ok = false;
    }
    d->n_maps = n - 2;
    for (int i = 2; i < n; i++) {
        const detc_tensor *m = detc_prep_in(p, i);
        detc_shape_str(m->rank, m->dims, ms, sizeof ms);
        if (m->dims[0] != 1 || m->dims[1] < 1 || m->dims[2] < 1 || m->dims[3] < 1 || m->dims[3] != m0->dims[3]) {
            detc_prep_error(p, DETC_ERR_SHAPE,
                            "feature map %d %s must be [1, h, w, C] with the same C (%d) as the first map; roi_align "
                            "runs on one image",
                            i - 2, ms, (int)m0->dims[3]);
            ok = false;
        }
        d->map_h[i - 2] = m->dims[1];
        d->map_w[i - 2] = m->dims[2];
    }
    d->rois = b->dims[0];
    d->channels = m0->dims[3];
    return ok;
}

static size_t ra_slot_bytes(const ra_data *d)
{
    return op_align((size_t)d->channels * sizeof(float)) + op_align((size_t)d->region_pixels * d->channels * sizeof(float));
}

static bool ra_prepare(detc_prep *p)
{
    ra_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    if (p->node->n_outputs != 1) {
        detc_prep_error(p, DETC_ERR_GRAPH, "has %d outputs, roi_align produces 1", p->node->n_outputs);
        return false;
    }
    if (!check_operands(p, d))
        return false;
    if (!parse_attrs(p, d))
        return false;
    int32_t dims[4] = {d->rois, d->out_h, d->out_w, d->channels};
    if (!d->q8)
        return detc_prep_set_output(p, 0, DETC_F32, 4, dims, NULL, false);
    if (d->mode != RA_TORCHVISION) {
        detc_prep_error(p, DETC_ERR_UNSUPPORTED,
                        "quantized feature maps are supported in mode \"torchvision\" only; give this node f32 maps");
        return false;
    }
    detc_dtype dt = d->is_signed ? DETC_I8 : DETC_U8;
    if (!detc_prep_set_output(p, 0, dt, 4, dims, NULL, true) || !op_check_output_quant(p, 0))
        return false;
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    d->out_scale = out->quant.scale[0];
    d->out_zp = out->quant.zero_point[0];
    /* per parallel part: one bin of C floats, then a dequantized region (32 x 32 pixels of 256 channels) */
    d->region_pixels = RA_REGION_FLOATS / d->channels > 0 ? RA_REGION_FLOATS / d->channels : 1;
    p->node->scratch_bytes = ra_slot_bytes(d) * OP_MAX_PARTS;
    return true;
}

/* ---------------- eval ---------------- */

typedef struct {
    const ra_data *d;
    const detc_kernels *k;
    const float *boxes;
    const void *maps[RA_MAX_MAPS];
    void *out;     /* f32, or u8/i8 when d->q8 */
    uint8_t *scratch;
    int count, parts;
} ra_job;

static float maxf(float a, float b)
{
    return a < b ? b : a;
}

/* LevelMapper for one box: index of the map to pool from. */
static int map_level(const ra_data *d, const float *b)
{
    if (d->n_maps == 1)
        return 0;
    float area = (b[2] - b[0]) * (b[3] - b[1]);
    float s = sqrtf(area);
    float lvl = floorf((d->canonical_level + log2f(s / d->canonical_scale)) + 1e-6f);
    /* torch.clamp then .to(int64); NaN (a degenerate box) would be undefined there: use the first map */
    if (isnan(lvl))
        return 0;
    lvl = lvl < (float)d->k_min ? (float)d->k_min : lvl > (float)d->k_max ? (float)d->k_max : lvl;
    return (int)lvl - d->k_min;
}

/* ceil(roi_size / bins) as torchvision's adaptive sampling; a non-finite size gives no samples (the
 * kernel's int conversion would be undefined), and the grid is capped at one sample per map pixel
 * per bin, which only boxes many times larger than the whole map would exceed. */
static int adaptive_grid(float roi_size, int bins, int map_size)
{
    float g = ceilf(roi_size / (float)bins);
    if (!(g > 0.0f))
        return 0; /* torchvision samples nothing either: the bin is 0 */
    return g > (float)(map_size + 1) ? map_size + 1 : (int)g;
}

/* One bilinear sample of C channels added to o: the four neighbours weighted as the f32 kernel does, by the
 * kernel table's roi_sample_f32 from f32 values (an f32 map, or a dequantized region of a quantized one); from
 * a quantized map's bytes by roi_sample_q8, which reads each as scale * (float)(q - zp), cast's
 * dequantization (the same float operations in the same order). */
typedef struct {
    const void *base; /* f32 values, or the quantized map's bytes when !f32 */
    bool f32;
    int w, y0, x0; /* row length in pixels, coordinates of base's first pixel */
    float scale;
    int32_t zp;
} ra_source;

static void add_sample(const ra_job *j, const ra_source *s, int yl, int yh, int xl, int xh, const float w[4], float *o)
{
    const int C = j->d->channels;
    size_t i1 = ((size_t)(yl - s->y0) * s->w + (size_t)(xl - s->x0)) * C;
    size_t i2 = ((size_t)(yl - s->y0) * s->w + (size_t)(xh - s->x0)) * C;
    size_t i3 = ((size_t)(yh - s->y0) * s->w + (size_t)(xl - s->x0)) * C;
    size_t i4 = ((size_t)(yh - s->y0) * s->w + (size_t)(xh - s->x0)) * C;
    if (s->f32) {
        const float *f = s->base;
        j->k->roi_sample_f32(C, f + i1, f + i2, f + i3, f + i4, w, o);
    } else {
        const uint8_t *q = s->base;
        j->k->roi_sample_q8(C, q + i1, q + i2, q + i3, q + i4, j->d->is_signed, s->scale, s->zp, w, o);
    }
}

/* Sample i (of `grid`) of bin p along one axis, in the kernel's float operations and order. */
static float ra_coord(float start, int p, float bin, int i, int grid)
{
    return start + (float)p * bin + ((float)i + .5f) * bin / (float)grid;
}

/* One sample coordinate clamped to the map as the kernel does: its two neighbours and the weight of the upper
 * one; false outside [-1, size] (the kernel adds 0 * v there; NaN too). */
static bool ra_axis(float v, int size, int *lo, int *hi, float *frac)
{
    if (!(v >= -1.0f && v <= (float)size))
        return false;
    if (v <= 0)
        v = 0;
    int low = (int)v;
    if (low >= size - 1) {
        *lo = *hi = size - 1;
        v = (float)*lo;
    } else {
        *lo = low;
        *hi = low + 1;
    }
    *frac = v - (float)*lo;
    return true;
}

/* The rows or columns [*lo, *hi] that one axis's samples read; false when none is inside. */
static bool ra_span(float start, int bins, float bin, int grid, int size, int *lo, int *hi)
{
    *lo = size;
    *hi = -1;
    for (int p = 0; p < bins; p++)
        for (int i = 0; i < grid; i++) {
            int l, h;
            float f;
            if (ra_axis(ra_coord(start, p, bin, i, grid), size, &l, &h, &f)) {
                *lo = l < *lo ? l : *lo;
                *hi = h > *hi ? h : *hi;
            }
        }
    return *hi >= 0;
}

/* A quantized box's samples read every pixel of its region about 4 * samples / pixels times; past 2 (below
 * about 2 * samples pixels) the region is dequantized once into `region` (what cast computes) and sampled in
 * f32, which costs less than roi_sample_q8's per-read dequantization. Same floats either way. */
static ra_source ra_pick_source(const ra_job *j, int lvl, float start_h, float start_w, float bin_h, float bin_w,
                                int grid_h, int grid_w, float *region)
{
    const ra_data *d = j->d;
    int H = d->map_h[lvl], W = d->map_w[lvl], C = d->channels;
    ra_source s = {.base = j->maps[lvl], .f32 = !d->q8, .w = W, .scale = d->map_scale[lvl], .zp = d->map_zp[lvl]};
    int y0, y1, x0, x1;
    if (!d->q8 || !region || !ra_span(start_h, d->out_h, bin_h, grid_h, H, &y0, &y1) ||
        !ra_span(start_w, d->out_w, bin_w, grid_w, W, &x0, &x1))
        return s;
    int64_t pixels = (int64_t)(y1 - y0 + 1) * (x1 - x0 + 1);
    int64_t samples = (int64_t)d->out_h * grid_h * d->out_w * grid_w;
    if (pixels > d->region_pixels || pixels >= 2 * samples)
        return s;
    size_t row = (size_t)(x1 - x0 + 1) * C;
    const uint8_t *q = j->maps[lvl];
    for (int y = y0; y <= y1; y++)
        j->k->dequantize_q8(row, q + ((size_t)y * W + x0) * C, s.scale, s.zp, d->is_signed,
                            region + (size_t)(y - y0) * row);
    s = (ra_source){.base = region, .f32 = true, .w = x1 - x0 + 1, .y0 = y0, .x0 = x0};
    return s;
}

/* bin: C floats to accumulate a bin in when the output is quantized (the f32 output itself otherwise);
 * region: d->region_pixels * C floats for ra_pick_source (NULL for f32 maps) */
static void pool_torchvision(const ra_job *j, int r, float *bin, float *region)
{
    const ra_data *d = j->d;
    const float *b = j->boxes + (size_t)r * 4;
    int lvl = map_level(d, b);
    int H = d->map_h[lvl], W = d->map_w[lvl], C = d->channels;
    float scale = d->scales[lvl], offset = d->aligned ? 0.5f : 0.0f;
    float start_w = b[0] * scale - offset, start_h = b[1] * scale - offset;
    float end_w = b[2] * scale - offset, end_h = b[3] * scale - offset;
    float roi_w = end_w - start_w, roi_h = end_h - start_h;
    if (!d->aligned) {
        roi_w = maxf(roi_w, 1.0f);
        roi_h = maxf(roi_h, 1.0f);
    }
    float bin_h = roi_h / (float)d->out_h, bin_w = roi_w / (float)d->out_w;
    int grid_h = d->sampling_ratio > 0 ? d->sampling_ratio : adaptive_grid(roi_h, d->out_h, H);
    int grid_w = d->sampling_ratio > 0 ? d->sampling_ratio : adaptive_grid(roi_w, d->out_w, W);
    int n_samples = grid_h * grid_w;
    int divisor = n_samples > 1 ? n_samples : 1;
    float count = (float)divisor, inv_count = 1.0f / count;
    bool pow2 = (divisor & (divisor - 1)) == 0; /* 4 with the default sampling_ratio 2 */
    ra_source src = ra_pick_source(j, lvl, start_h, start_w, bin_h, bin_w, grid_h, grid_w, region);
    size_t first = (size_t)r * d->out_h * d->out_w * C;
    for (int ph = 0; ph < d->out_h; ph++)
        for (int pw = 0; pw < d->out_w; pw++) {
            size_t at = first + ((size_t)ph * d->out_w + pw) * C;
            float *o = d->q8 ? bin : (float *)j->out + at;
            memset(o, 0, (size_t)C * sizeof *o);
            for (int iy = 0; iy < grid_h; iy++) {
                int y_low, y_high;
                float ly;
                if (!ra_axis(ra_coord(start_h, ph, bin_h, iy, grid_h), H, &y_low, &y_high, &ly))
                    continue;
                for (int ix = 0; ix < grid_w; ix++) {
                    int x_low, x_high;
                    float lx;
                    if (!ra_axis(ra_coord(start_w, pw, bin_w, ix, grid_w), W, &x_low, &x_high, &lx))
                        continue;
                    float hy = 1.0f - ly, hx = 1.0f - lx;
                    const float w[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
                    add_sample(j, &src, y_low, y_high, x_low, x_high, w, o);
                }
            }
            if (pow2) /* x / 2^k and x * 2^-k are one rounding of the same real number: equal */
                for (int c = 0; c < C; c++)
                    o[c] *= inv_count;
            else
                for (int c = 0; c < C; c++)
                    o[c] /= count;
            if (d->q8)
                j->k->quantize_q8((size_t)C, o, d->out_scale, d->out_zp, d->is_signed, (uint8_t *)j->out + at);
        }
}

static void fill(float *o, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        o[i] = v;
}

/* tensorflow/core/kernels/image/crop_and_resize_op.cc, bilinear, extrapolation_value outside the map. */
static void pool_tf(const ra_job *j, int r)
{
    const ra_data *d = j->d;
    const float *b = j->boxes + (size_t)r * 4;
    const float *fm = j->maps[0]; /* f32: prepare refuses quantized maps in this mode */
    int H = d->map_h[0], W = d->map_w[0], C = d->channels;
    float y1 = b[0], x1 = b[1], y2 = b[2], x2 = b[3];
    float height_scale = d->out_h > 1 ? (y2 - y1) * (float)(H - 1) / (float)(d->out_h - 1) : 0.0f;
    float width_scale = d->out_w > 1 ? (x2 - x1) * (float)(W - 1) / (float)(d->out_w - 1) : 0.0f;
    float *out = (float *)j->out + (size_t)r * d->out_h * d->out_w * C;
    for (int y = 0; y < d->out_h; y++) {
        float in_y = d->out_h > 1 ? y1 * (float)(H - 1) + (float)y * height_scale
                                  : (float)(0.5 * (double)(y1 + y2) * (double)(H - 1));
        float *row = out + (size_t)y * d->out_w * C;
        if (!(in_y >= 0 && in_y <= (float)(H - 1))) { /* NaN too */
            fill(row, (size_t)d->out_w * C, d->extrapolation);
            continue;
        }
        int top = (int)floorf(in_y), bottom = (int)ceilf(in_y);
        float y_lerp = in_y - (float)top;
        for (int x = 0; x < d->out_w; x++) {
            float in_x = d->out_w > 1 ? x1 * (float)(W - 1) + (float)x * width_scale
                                      : (float)(0.5 * (double)(x1 + x2) * (double)(W - 1));
            float *o = row + (size_t)x * C;
            if (!(in_x >= 0 && in_x <= (float)(W - 1))) {
                fill(o, (size_t)C, d->extrapolation);
                continue;
            }
            int left = (int)floorf(in_x), right = (int)ceilf(in_x);
            float x_lerp = in_x - (float)left;
            const float *tl = fm + ((size_t)top * W + left) * C, *tr = fm + ((size_t)top * W + right) * C;
            const float *bl = fm + ((size_t)bottom * W + left) * C, *br = fm + ((size_t)bottom * W + right) * C;
            for (int c = 0; c < C; c++) {
                float t = tl[c] + (tr[c] - tl[c]) * x_lerp;
                float bo = bl[c] + (br[c] - bl[c]) * x_lerp;
                o[c] = t + (bo - t) * y_lerp;
            }
        }
    }
}

static void ra_parts(void *ctx, int begin, int end)
{
    const ra_job *j = ctx;
    const ra_data *d = j->d;
    size_t per_roi = (size_t)d->out_h * d->out_w * d->channels;
    for (int part = begin; part < end; part++) {
        uint8_t *slot = j->scratch ? j->scratch + (size_t)part * ra_slot_bytes(d) : NULL;
        float *bin = slot ? (float *)(void *)slot : NULL;
        float *region = slot ? (float *)(void *)(slot + op_align((size_t)d->channels * sizeof(float))) : NULL;
        int r0 = (int)((int64_t)d->rois * part / j->parts), r1 = (int)((int64_t)d->rois * (part + 1) / j->parts);
        for (int r = r0; r < r1; r++) {
            if (r >= j->count) {
                if (d->q8)
                    memset((uint8_t *)j->out + (size_t)r * per_roi, (uint8_t)d->out_zp, per_roi);
                else
                    memset((float *)j->out + (size_t)r * per_roi, 0, per_roi * sizeof(float));
                continue;
            }
            if (d->mode == RA_TF_CROP)
                pool_tf(j, r);
            else
                pool_torchvision(j, r, bin, region);
        }
    }
}

static detc_code ra_eval(const detc_exec *x, detc_node *node)
{
    const ra_data *d = node->op_data;
    ra_job j = {.d = d, .k = x->kernels, .boxes = detc_in(x->g, node, 0)->data, .out = detc_out(x->g, node, 0)->data,
                .scratch = d->q8 ? x->scratch : NULL};
    if (d->q8 && !x->scratch)
        return DETC_ERR_RUNTIME;
    for (int i = 0; i < d->n_maps; i++)
        j.maps[i] = detc_in(x->g, node, 2 + i)->data;
    int32_t count = op_read_i32(detc_in(x->g, node, 1), 0);
    j.count = count < 0 ? 0 : count > d->rois ? d->rois : count;
    j.parts = op_parts(x, d->rois, 1);
    detc_parallel_for(x->pool, j.parts, 1, ra_parts, &j);
    return DETC_OK;
}

const detc_op detc_op_roi_align = {
    .name = "roi_align",
    .min_inputs = 3,
    .max_inputs = 2 + RA_MAX_MAPS,
    .n_outputs = 1,
    .prepare = ra_prepare,
    .eval = ra_eval,
};
