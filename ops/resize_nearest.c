/* resize_nearest: nearest-neighbour resize of the H and W axes, NHWC, with the index rules of PyTorch
 * (default), TensorFlow or ONNX. x [N, h, w, C] -> [N, H, W, C]; (H, W) come from a second input `like`
 * [*, H, W, *] (only its shape is read) or from the attribute `size` [H, W] (exactly one of the two).
 *
 * Per axis, output index i -> source index (in = h or w, out = H or W), always clamped to [0, in - 1]:
 *
 * rules "pytorch" (default): F.interpolate(size=..., mode="nearest"), PyTorch's nearest_idx
 *   (aten/src/ATen/native/UpSample.h) for an explicit size, in float:
 *     out == in: i;  out == 2 in: i >> 1;  else floorf((float)i * ((float)in / (float)out)).
 *   No other attribute.
 * rules "tensorflow": tf.raw_ops.ResizeNearestNeighbor / TFLite RESIZE_NEAREST_NEIGHBOR, in float as they do:
 *     scale = align_corners && out > 1 ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
 *     v = half_pixel_centers ? ((float)i + 0.5f) * scale : (float)i * scale;
 *     src = align_corners ? roundf(v) (half away from zero) : floorf(v).
 *   Attributes align_corners, half_pixel_centers (booleans, default false; not both, as TF refuses).
 * rules "onnx": ONNX Resize (opset 11..) mode "nearest" and Upsample, in double as ONNX's reference does,
 *   with s = the `scales` entry for the axis (output / input, the f32 value ONNX's scales input holds) or,
 *   without `scales`, (double)out / in (ONNX's `sizes` input):
 *     coordinate_transformation_mode "half_pixel" (default): x = (i + 0.5) / s - 0.5
 *       "pytorch_half_pixel": out > 1 ? (i + 0.5) / s - 0.5 : 0;   "asymmetric": x = i / s
 *       "tf_half_pixel_for_nn": (i + 0.5) / s;   "align_corners": out > 1 ? i * (in - 1) / (out - 1) : 0
 *     nearest_mode "round_prefer_floor" (default): an integer x is itself; else floor(x) when
 *       x - floor(x) <= 0.5, otherwise ceil(x);  "round_prefer_ceil": floor when the fraction is < 0.5;
 *       "floor", "ceil".
 *     `scales` only changes the mapping: the output size still comes from `like` / `size`.
 *     (ONNX's "tf_crop_and_resize" needs a region and an extrapolation value: roi_align's
 *     tf_crop_and_resize mode is the op for it.)
 * Attributes of another rule set are refused. The index tables are built in prepare; eval copies C-channel
 * runs. f32 only. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

enum { RN_PYTORCH = 0, RN_TENSORFLOW = 1, RN_ONNX = 2 };
enum { CT_HALF_PIXEL, CT_ASYMMETRIC, CT_PYTORCH_HALF_PIXEL, CT_TF_HALF_PIXEL_FOR_NN, CT_ALIGN_CORNERS };
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };

typedef struct {
    int rules;
    bool align_corners, half_pixel_centers; /* tensorflow */
    int transform, nearest;                 /* onnx */
    bool has_scales;
    float scales[2];
} rn_rules;

typedef struct {
    int n, in_h, in_w, c, out_h, out_w;
    size_t elem; /* bytes per element: the op only copies */
    int *src_y, *src_x;
} rn_data;

static void rn_release(void *op_data)
{
    rn_data *d = op_data;
    if (!d)
        return;
    free(d->src_y);
    free(d->src_x);
    free(d);
}

static void fill_pytorch(int *idx, int in, int out)
{
    float scale = (float)in / (float)out;
    for (int i = 0; i < out; i++) {
        if (out == in)
            idx[i] = i;
        else if (out == 2 * in)
            idx[i] = i >> 1;
        else {
            int s = (int)floorf((float)i * scale);
            idx[i] = s < in - 1 ? s : in - 1;
        }
    }
}

static int clamp_index(double v, int in)
{
    if (!(v > 0.0)) /* NaN cannot occur (finite positive scales); negative -> 0 */
        return 0;
    return v >= (double)(in - 1) ? in - 1 : (int)v;
}

static void fill_tensorflow(int *idx, int in, int out, const rn_rules *r)
{
    float scale = (r->align_corners && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
    for (int i = 0; i < out; i++) {
        float v = r->half_pixel_centers ? ((float)i + 0.5f) * scale : (float)i * scale;
        idx[i] = clamp_index(r->align_corners ? (double)roundf(v) : (double)floorf(v), in);
    }
}

static void fill_onnx(int *idx, int in, int out, const rn_rules *r, int axis)
{
    double s = r->has_scales ? (double)r->scales[axis] : (double)out / (double)in;
    for (int i = 0; i < out; i++) {
        double x;
        switch (r->transform) {
        case CT_ASYMMETRIC:
            x = (double)i / s;
            break;
        case CT_PYTORCH_HALF_PIXEL:
            x = out > 1 ? ((double)i + 0.5) / s - 0.5 : 0.0;
            break;
        case CT_TF_HALF_PIXEL_FOR_NN:
            x = ((double)i + 0.5) / s;
            break;
        case CT_ALIGN_CORNERS:
            x = out > 1 ? (double)i * (double)(in - 1) / (double)(out - 1) : 0.0;
            break;
        default: /* CT_HALF_PIXEL */
            x = ((double)i + 0.5) / s - 0.5;
            break;
        }
        double fl = floor(x), frac = x - fl, v;
        if (frac == 0.0)
            v = x;
        else if (r->nearest == NM_FLOOR)
            v = fl;
        else if (r->nearest == NM_CEIL)
            v = fl + 1.0;
        else if (r->nearest == NM_ROUND_PREFER_FLOOR)
            v = frac <= 0.5 ? fl : fl + 1.0;
        else
            v = frac < 0.5 ? fl : fl + 1.0;
        idx[i] = clamp_index(v, in);
    }
}

static void fill_index(int *idx, int in, int out, const rn_rules *r, int axis)
{
    if (r->rules == RN_TENSORFLOW)
        fill_tensorflow(idx, in, out, r);
    else if (r->rules == RN_ONNX)
        fill_onnx(idx, in, out, r, axis);
    else
        fill_pytorch(idx, in, out);
}

static bool parse_rules(detc_prep *p, rn_rules *r)
{
    static const char *const rules[] = {"pytorch", "tensorflow", "onnx", NULL};
    static const char *const transforms[] = {"half_pixel",           "asymmetric",    "pytorch_half_pixel",
                                             "tf_half_pixel_for_nn", "align_corners", NULL};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};
    static const char *const tf_only[] = {"align_corners", "half_pixel_centers", NULL};
    static const char *const onnx_only[] = {"coordinate_transformation_mode", "nearest_mode", "scales", NULL};
    memset(r, 0, sizeof *r);
    if (!detc_attr_enum(p, "rules", false, RN_PYTORCH, rules, &r->rules))
        return false;
    bool ok = true;
    for (int k = 0; k < 2; k++) {
        const char *const *names = k ? onnx_only : tf_only;
        int owner = k ? RN_ONNX : RN_TENSORFLOW;
        for (int i = 0; names[i]; i++)
            if (r->rules != owner && detc_attr_get(p, names[i])) {
                detc_prep_error(p, DETC_ERR_ATTR,
                                "attribute '%s' belongs to rules \"%s\" but the node has rules \"%s\"; set "
                                "\"rules\": \"%s\" or drop the attribute",
                                names[i], rules[owner], rules[r->rules], rules[owner]);
                ok = false;
            }
    }
    if (!ok)
        return false;
    if (r->rules == RN_TENSORFLOW) {
        ok = detc_attr_bool(p, "align_corners", false, &r->align_corners);
        ok = detc_attr_bool(p, "half_pixel_centers", false, &r->half_pixel_centers) && ok;
        /* both may be set: TFLite's RESIZE_NEAREST_NEIGHBOR takes them together (TensorFlow's op refuses it) */
    } else if (r->rules == RN_ONNX) {
        ok = detc_attr_enum(p, "coordinate_transformation_mode", false, CT_HALF_PIXEL, transforms, &r->transform);
        ok = detc_attr_enum(p, "nearest_mode", false, NM_ROUND_PREFER_FLOOR, nearest, &r->nearest) && ok;
        const cJSON *v = detc_attr_get(p, "scales");
        if (v) {
            int n = 0;
            int size = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
            const cJSON *item;
            if (size == 2)
                cJSON_ArrayForEach(item, v)
                {
                    double f = cJSON_IsNumber(item) ? item->valuedouble : NAN;
                    if (!(f >= 1e-6 && f <= 1e6))
                        break;
                    r->scales[n++] = (float)f;
                }
            if (n != 2) {
                detc_prep_error(p, DETC_ERR_ATTR,
                                "attribute 'scales' must be [scale_h, scale_w], each output / input in 1e-6..1e6 "
                                "(ONNX Resize's scales for the H and W axes)");
                ok = false;
            }
            r->has_scales = true;
        }
    }
    return ok;
}

static bool rn_prepare(detc_prep *p)
{
    if (p->node->op_data) {
        rn_release(p->node->op_data);
        p->node->op_data = NULL;
    }
    rn_rules rules;
    bool ok = op_check_counts(p);
    ok = parse_rules(p, &rules) && ok;
    const cJSON *size_attr = detc_attr_get(p, "size");
    int64_t size[2] = {0, 0};
    bool has_like = detc_prep_in(p, 1) != NULL;
    if (size_attr && has_like) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "has both a 'like' input and a 'size' attribute; give the output size one way only");
        ok = false;
    } else if (!size_attr && !has_like && p->node->n_inputs >= 1) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "needs the output size: a second input 'like' [*, H, W, *] or the attribute 'size' [H, W]");
        ok = false;
    } else if (size_attr) {
        ok = detc_attr_ints(p, "size", true, 2, 2, NULL, 1, INT32_MAX, size, NULL) && ok;
    }
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8) | DETC_MASK(DETC_I32),
                         "resize_nearest takes f32, u8, i8 or i32; cast the input first") && ok;
    ok = detc_prep_rank(p, 0, 4, 4) && ok;
    if (has_like)
        ok = detc_prep_rank(p, 1, 4, 4) && ok;
    if (!ok)
        return false;
    const detc_tensor *x = detc_prep_in(p, 0), *like = detc_prep_in(p, 1);
    if (like) {
        size[0] = like->dims[1];
        size[1] = like->dims[2];
    }
    for (int i = 0; i < 4; i++)
        if (x->dims[i] < 1 || (i < 2 && size[i] < 1)) {
            char xs[128], ls[128], what[160];
            detc_shape_str(x->rank, x->dims, xs, sizeof xs);
            if (like)
                detc_shape_str(like->rank, like->dims, ls, sizeof ls);
            else
                snprintf(ls, sizeof ls, "[%lld, %lld]", (long long)size[0], (long long)size[1]);
            snprintf(what, sizeof what, "%s %s", like ? "like" : "size", ls);
            detc_prep_error(p, DETC_ERR_SHAPE, "input %s and %s must have positive dimensions", xs, what);
            return false;
        }
    int32_t dims[4] = {x->dims[0], (int32_t)size[0], (int32_t)size[1], x->dims[3]};
    if ((int64_t)dims[0] * dims[1] > INT32_MAX || (int64_t)dims[2] * dims[3] > INT32_MAX) {
        detc_prep_error(p, DETC_ERR_SHAPE, "output [%d, %d, %d, %d] is too large; resize to a smaller size",
                        (int)dims[0], (int)dims[1], (int)dims[2], (int)dims[3]);
        return false;
    }
    /* values are copied: a quantized input's parameters pass through (TFLite's kernel copies too) */
    const detc_quant *q = detc_tensor_is_quantized(x) ? &x->quant : NULL;
    if (!detc_prep_set_output(p, 0, x->dtype, 4, dims, q, false))
        return false;
    rn_data *d = calloc(1, sizeof *d);
    if (d) {
        d->src_y = malloc((size_t)dims[1] * sizeof(int));
        d->src_x = malloc((size_t)dims[2] * sizeof(int));
    }
    if (!d || !d->src_y || !d->src_x) {
        rn_release(d);
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    p->node->op_data = d;
    d->n = x->dims[0];
    d->in_h = x->dims[1];
    d->in_w = x->dims[2];
    d->c = x->dims[3];
    d->elem = detc_dtype_size(x->dtype);
    d->out_h = dims[1];
    d->out_w = dims[2];
    fill_index(d->src_y, d->in_h, d->out_h, &rules, 0);
    fill_index(d->src_x, d->in_w, d->out_w, &rules, 1);
    return true;
}

typedef struct {
    const rn_data *d;
    const unsigned char *x;
    unsigned char *out;
} rn_job;

static void rn_rows(void *ctx, int begin, int end)
{
    const rn_job *j = ctx;
    const rn_data *d = j->d;
    size_t run = (size_t)d->c * d->elem;
    for (int row = begin; row < end; row++) {
        int n = row / d->out_h, oy = row % d->out_h;
        const unsigned char *src = j->x + ((size_t)n * d->in_h + (size_t)d->src_y[oy]) * d->in_w * run;
        unsigned char *dst = j->out + (size_t)row * d->out_w * run;
        for (int ox = 0; ox < d->out_w; ox++)
            memcpy(dst + (size_t)ox * run, src + (size_t)d->src_x[ox] * run, run);
    }
}

static detc_code rn_eval(const detc_exec *x, detc_node *node)
{
    const rn_data *d = node->op_data;
    rn_job j = {d, detc_in(x->g, node, 0)->data, detc_out(x->g, node, 0)->data};
    int rows = d->n * d->out_h;
    int min_rows = (int)(65536 / ((int64_t)d->out_w * d->c + 1)) + 1;
    detc_parallel_for(x->pool, rows, min_rows, rn_rows, &j);
    return DETC_OK;
}

const detc_op detc_op_resize_nearest = {
    .name = "resize_nearest",
    .min_inputs = 1,
    .max_inputs = 2,
    .n_outputs = 1,
    .prepare = rn_prepare,
    .eval = rn_eval,
    .release = rn_release,
};
