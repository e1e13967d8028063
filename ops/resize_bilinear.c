/* resize_bilinear: TensorFlow Lite's RESIZE_BILINEAR in f32, NHWC. Per output row y (columns alike):
 *   scale = align_corners && out > 1 ? (in - 1) / (out - 1) : in / out          (float)
 *   v = half_pixel_centers ? (y + 0.5) * scale - 0.5 : y * scale
 *   y0 = max(floor(v), 0), y1 = min(ceil(v), in - 1), dy = v - y0
 * out = x[y0,x0](1-dy)(1-dx) + x[y1,x0] dy (1-dx) + x[y0,x1] (1-dy) dx + x[y1,x1] dy dx
 * (with half-pixel centres v can be below 0: dy is then negative, as in TFLite).
 * u8 (TFLite's optimized kernel, ResizeBilinearGenericSmallChannel): the same coordinates, the four weights
 * (1-dy)(1-dx), (1-dy)dx, dy(1-dx), dy dx in f32, the weighted sum of the raw values rounded half away
 * from zero (it stays within the four values: where v leaves the image both taps are the edge pixel).
 * i8 (TFLite's ResizeBilinearInteger): coordinates in 10-bit fixed point,
 *   scale10 = ((1 << 10) * in + out / 2) / out   (align_corners: ((1 << 10)(in - 1) + (out - 1) / 2) / (out - 1))
 *   v = o * scale10 (+ scale10 / 2 - 512 with half-pixel centres), lo = max(v / 1024, 0),
 *   hi = min((v + 1023) / 1024, in - 1), weights 1024 - (v - 1024 lo) and v - 1024 lo per axis,
 *   out = (sum + (sum > 0 ? 2^19 : -2^19)) / 2^20   (C division).
 * Quantized outputs carry the input's parameters (values are interpolated, not rescaled). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdlib.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    int n, in_h, in_w, c, out_h, out_w;
    bool align_corners, half_pixel;
    detc_dtype dtype;
} rb_data;

static bool rb_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "resize_bilinear takes f32, or u8/i8 (per-tensor quantization passes through)") &&
         ok;
    ok = detc_prep_rank(p, 0, 4, 4) && ok;
    int64_t size[2];
    bool ac = false, hp = false;
    ok = detc_attr_ints(p, "size", true, 2, 2, NULL, 1, 1 << 20, size, NULL) && ok;
    ok = detc_attr_bool(p, "align_corners", false, &ac) && ok;
    ok = detc_attr_bool(p, "half_pixel_centers", false, &hp) && ok;
    if (!ok)
        return false;
    if (ac && hp) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "align_corners and half_pixel_centers are both true; TFLite refuses that combination");
        return false;
    }
    rb_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    *d = (rb_data){x->dims[0], x->dims[1], x->dims[2], x->dims[3], (int)size[0], (int)size[1], ac, hp, x->dtype};
    int32_t dims[4] = {x->dims[0], (int32_t)size[0], (int32_t)size[1], x->dims[3]};
    return detc_prep_set_output(p, 0, x->dtype, 4, dims, detc_tensor_is_quantized(x) ? &x->quant : NULL, false);
}

static void coord(int o, int in, int out, bool ac, bool hp, float *v, int *lo, int *hi)
{
    float scale = (ac && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
    *v = hp ? ((float)o + 0.5f) * scale - 0.5f : (float)o * scale;
    int f = (int)floorf(*v), c = (int)ceilf(*v);
    *lo = f > 0 ? f : 0;
    *hi = c < in - 1 ? c : in - 1;
}

static void coord10(int o, int in, int out, bool ac, bool hp, int32_t *v, int *lo, int *hi)
{
    int32_t scale = (ac && out > 1) ? ((1 << 10) * (in - 1) + (out - 1) / 2) / (out - 1)
                                    : ((1 << 10) * in + out / 2) / out;
    *v = hp ? o * scale + scale / 2 - (1 << 9) : o * scale;
    int32_t l = *v / (1 << 10), h = (*v + (1 << 10) - 1) / (1 << 10);
    *lo = l > 0 ? l : 0;
    *hi = h < in - 1 ? h : in - 1;
}

static void rb_eval_i8(const rb_data *d, const int8_t *src, int8_t *dst)
{
    for (int b = 0; b < d->n; b++) {
        const int8_t *img = src + (size_t)b * d->in_h * d->in_w * d->c;
        for (int oy = 0; oy < d->out_h; oy++) {
            int32_t vy;
            int y0, y1;
            coord10(oy, d->in_h, d->out_h, d->align_corners, d->half_pixel, &vy, &y0, &y1);
            int64_t wy1 = vy - (1 << 10) * y0, wy0 = (1 << 10) - wy1;
            for (int ox = 0; ox < d->out_w; ox++) {
                int32_t vx;
                int x0, x1;
                coord10(ox, d->in_w, d->out_w, d->align_corners, d->half_pixel, &vx, &x0, &x1);
                int64_t wx1 = vx - (1 << 10) * x0, wx0 = (1 << 10) - wx1;
                const int8_t *p00 = img + ((size_t)y0 * d->in_w + x0) * d->c;
                const int8_t *p01 = img + ((size_t)y0 * d->in_w + x1) * d->c;
                const int8_t *p10 = img + ((size_t)y1 * d->in_w + x0) * d->c;
                const int8_t *p11 = img + ((size_t)y1 * d->in_w + x1) * d->c;
                for (int k = 0; k < d->c; k++) {
                    int64_t sum = p00[k] * wy0 * wx0 + p10[k] * wy1 * wx0 + p01[k] * wy0 * wx1 + p11[k] * wy1 * wx1;
                    int64_t round = sum > 0 ? (1 << 19) : -(1 << 19);
                    *dst++ = (int8_t)((sum + round) / (1 << 20));
                }
            }
        }
    }
}

/* f32 and u8: the float coordinates and weights; the element arithmetic of each dtype as TFLite's */
static void rb_eval_float_weights(const rb_data *d, const void *src, void *dst)
{
    size_t row = (size_t)d->in_w * d->c, elem = d->dtype == DETC_U8 ? 1 : sizeof(float);
    unsigned char *out = dst;
    for (int b = 0; b < d->n; b++) {
        const unsigned char *img = (const unsigned char *)src + (size_t)b * d->in_h * row * elem;
        for (int oy = 0; oy < d->out_h; oy++) {
            float vy;
            int y0, y1;
            coord(oy, d->in_h, d->out_h, d->align_corners, d->half_pixel, &vy, &y0, &y1);
            float dy = vy - (float)y0;
            for (int ox = 0; ox < d->out_w; ox++) {
                float vx;
                int x0, x1;
                coord(ox, d->in_w, d->out_w, d->align_corners, d->half_pixel, &vx, &x0, &x1);
                float dx = vx - (float)x0;
                size_t o00 = (y0 * row + (size_t)x0 * d->c) * elem, o01 = (y0 * row + (size_t)x1 * d->c) * elem;
                size_t o10 = (y1 * row + (size_t)x0 * d->c) * elem, o11 = (y1 * row + (size_t)x1 * d->c) * elem;
                if (d->dtype == DETC_U8) {
                    const uint8_t *p00 = img + o00, *p01 = img + o01, *p10 = img + o10, *p11 = img + o11;
                    float w[4] = {(1 - dy) * (1 - dx), (1 - dy) * dx, dy * (1 - dx), dy * dx};
                    for (int k = 0; k < d->c; k++)
                        *out++ = (uint8_t)roundf(p00[k] * w[0] + p01[k] * w[1] + p10[k] * w[2] + p11[k] * w[3]);
                    continue;
                }
                const float *p00 = (const float *)(img + o00), *p01 = (const float *)(img + o01);
                const float *p10 = (const float *)(img + o10), *p11 = (const float *)(img + o11);
                float *o = (float *)out;
                for (int k = 0; k < d->c; k++)
                    o[k] = p00[k] * (1 - dy) * (1 - dx) + p10[k] * dy * (1 - dx) + p01[k] * (1 - dy) * dx +
                           p11[k] * dy * dx;
                out += (size_t)d->c * sizeof(float);
            }
        }
    }
}

static detc_code rb_eval(const detc_exec *x, detc_node *node)
{
    const rb_data *d = node->op_data;
    if (d->dtype == DETC_I8)
        rb_eval_i8(d, detc_in(x->g, node, 0)->data, detc_out(x->g, node, 0)->data);
    else
        rb_eval_float_weights(d, detc_in(x->g, node, 0)->data, detc_out(x->g, node, 0)->data);
    return DETC_OK;
}

const detc_op detc_op_resize_bilinear = {
    .name = "resize_bilinear",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = rb_prepare,
    .eval = rb_eval,
};
