/* resize_bilinear: TensorFlow Lite's RESIZE_BILINEAR in f32, NHWC. Per output row y (columns alike):
 *   scale = align_corners && out > 1 ? (in - 1) / (out - 1) : in / out          (float)
 *   v = half_pixel_centers ? (y + 0.5) * scale - 0.5 : y * scale
 *   y0 = max(floor(v), 0), y1 = min(ceil(v), in - 1), dy = v - y0
 * out = x[y0,x0](1-dy)(1-dx) + x[y1,x0] dy (1-dx) + x[y0,x1] (1-dy) dx + x[y1,x1] dy dx
 * (with half-pixel centres v can be below 0: dy is then negative, as in TFLite). Quantized input is
 * refused by detc-convert. */
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
} rb_data;

static bool rb_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32), "resize_bilinear takes f32; cast the input to f32 first") && ok;
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
    *d = (rb_data){x->dims[0], x->dims[1], x->dims[2], x->dims[3], (int)size[0], (int)size[1], ac, hp};
    int32_t dims[4] = {x->dims[0], (int32_t)size[0], (int32_t)size[1], x->dims[3]};
    return detc_prep_set_output(p, 0, DETC_F32, 4, dims, NULL, false);
}

static void coord(int o, int in, int out, bool ac, bool hp, float *v, int *lo, int *hi)
{
    float scale = (ac && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
    *v = hp ? ((float)o + 0.5f) * scale - 0.5f : (float)o * scale;
    int f = (int)floorf(*v), c = (int)ceilf(*v);
    *lo = f > 0 ? f : 0;
    *hi = c < in - 1 ? c : in - 1;
}

static detc_code rb_eval(const detc_exec *x, detc_node *node)
{
    const rb_data *d = node->op_data;
    const float *src = detc_in(x->g, node, 0)->data;
    float *dst = detc_out(x->g, node, 0)->data;
    for (int b = 0; b < d->n; b++) {
        const float *img = src + (size_t)b * d->in_h * d->in_w * d->c;
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
                const float *p00 = img + ((size_t)y0 * d->in_w + x0) * d->c;
                const float *p01 = img + ((size_t)y0 * d->in_w + x1) * d->c;
                const float *p10 = img + ((size_t)y1 * d->in_w + x0) * d->c;
                const float *p11 = img + ((size_t)y1 * d->in_w + x1) * d->c;
                for (int k = 0; k < d->c; k++)
                    *dst++ = p00[k] * (1 - dy) * (1 - dx) + p10[k] * dy * (1 - dx) + p01[k] * (1 - dy) * dx +
                             p11[k] * dy * dx;
            }
        }
    }
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
