/* anchors: torchvision's AnchorGenerator (models/detection/anchor_utils.py) for one feature map.
 *
 * Inputs: `feature` [1, h, w, *] (only its shape is used), `image` [1, Hp, Wp, *] (the padded image the
 * feature map comes from). Output [h * w * A, 4] f32 boxes (x0, y0, x1, y1), A = len(aspect_ratios) *
 * len(sizes).
 *
 *   h_ratio = sqrt(ar), w_ratio = 1 / h_ratio                      (float)
 *   base    = round([-w_ratio*size, -h_ratio*size, w_ratio*size, h_ratio*size] / 2)   (half to even)
 *             in aspect-ratio-major order (for each ratio, for each size), as torchvision's view(-1)
 *   stride  = (Hp // h, Wp // w)                                   (integer division)
 *   anchor[(y * w + x) * A + a] = base[a] + (x * stride_w, y * stride_h, x * stride_w, y * stride_h)
 *
 * Everything depends on shapes only, so prepare computes the anchors and eval copies them. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nms_util.h"
#include "op_util.h"
#include "ops.h"

#define ANCHORS_MAX_LIST 16

typedef struct {
    int64_t count; /* h * w * A */
    float *boxes;  /* count * 4 */
} anchors_data;

static void anchors_release(void *op_data)
{
    anchors_data *d = op_data;
    if (!d)
        return;
    free(d->boxes);
    free(d);
}

static bool check_list(detc_prep *p, const char *name, const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!(v[i] > 0.0f)) {
            detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s'[%d] is %g, expected a positive number", name, i,
                            (double)v[i]);
            return false;
        }
    return true;
}

static bool anchors_prepare(detc_prep *p)
{
    if (p->node->op_data) { /* prepared before (new input shape): start over */
        anchors_release(p->node->op_data);
        p->node->op_data = NULL;
    }
    float sizes[ANCHORS_MAX_LIST], ratios[ANCHORS_MAX_LIST];
    int n_sizes = 0, n_ratios = 0;
    bool ok = op_check_counts(p);
    bool attrs = nms_attr_float_list(p, "sizes", true, ANCHORS_MAX_LIST, sizes, &n_sizes);
    attrs = nms_attr_float_list(p, "aspect_ratios", true, ANCHORS_MAX_LIST, ratios, &n_ratios) && attrs;
    attrs = attrs && check_list(p, "sizes", sizes, n_sizes) && check_list(p, "aspect_ratios", ratios, n_ratios);
    if (!detc_prep_require_input(p, 0, "feature") || !detc_prep_require_input(p, 1, "image"))
        return false;
    const char *fix = "anchors reads only the shapes of a feature map (f32, or quantized u8/i8) and the f32 image";
    /* the feature may be an int8 map: reading its shape spares the f32 copy a dequantize would make */
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8), fix) && ok;
    ok = detc_prep_dtype(p, 1, DETC_MASK(DETC_F32), fix) && ok;
    ok = detc_prep_rank(p, 0, 4, 4) && ok;
    ok = detc_prep_rank(p, 1, 4, 4) && ok;
    if (!ok || !attrs)
        return false;
    const detc_tensor *f = detc_prep_in(p, 0), *img = detc_prep_in(p, 1);
    char fs[128], is[128];
    detc_shape_str(f->rank, f->dims, fs, sizeof fs);
    detc_shape_str(img->rank, img->dims, is, sizeof is);
    int h = f->dims[1], w = f->dims[2], Hp = img->dims[1], Wp = img->dims[2];
    if (h < 1 || w < 1 || Hp < h || Wp < w) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "feature map %s must be [1, h, w, C] with 1 <= h <= the image height and 1 <= w <= the image "
                        "width of %s; connect the feature map and the padded image it comes from",
                        fs, is);
        return false;
    }
    int A = n_sizes * n_ratios;
    int64_t count = (int64_t)h * w * A;
    if (count > INT32_MAX / 4) {
        detc_prep_error(p, DETC_ERR_SHAPE, "feature map %s with %d anchors per position gives too many anchors", fs,
                        A);
        return false;
    }
    int32_t dims[2] = {(int32_t)count, 4};
    if (!detc_prep_set_output(p, 0, DETC_F32, 2, dims, NULL, false))
        return false;
    anchors_data *d = calloc(1, sizeof *d);
    if (d)
        d->boxes = malloc((size_t)count * 4 * sizeof(float));
    if (!d || !d->boxes) {
        free(d);
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    p->node->op_data = d;
    d->count = count;
    float base[ANCHORS_MAX_LIST * ANCHORS_MAX_LIST][4];
    for (int r = 0; r < n_ratios; r++) {
        float hr = sqrtf(ratios[r]), wr = 1.0f / hr;
        for (int s = 0; s < n_sizes; s++) {
            float ws = wr * sizes[s], hs = hr * sizes[s];
            float *b = base[r * n_sizes + s];
            b[0] = rintf(-ws / 2.0f);
            b[1] = rintf(-hs / 2.0f);
            b[2] = rintf(ws / 2.0f);
            b[3] = rintf(hs / 2.0f);
        }
    }
    int stride_h = Hp / h, stride_w = Wp / w;
    float *o = d->boxes;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float sx = (float)(x * stride_w), sy = (float)(y * stride_h);
            for (int a = 0; a < A; a++, o += 4) {
                o[0] = sx + base[a][0];
                o[1] = sy + base[a][1];
                o[2] = sx + base[a][2];
                o[3] = sy + base[a][3];
            }
        }
    return true;
}

static detc_code anchors_eval(const detc_exec *x, detc_node *node)
{
    const anchors_data *d = node->op_data;
    memcpy(detc_out(x->g, node, 0)->data, d->boxes, (size_t)d->count * 4 * sizeof(float));
    return DETC_OK;
}

const detc_op detc_op_anchors = {
    .name = "anchors",
    .min_inputs = 2,
    .max_inputs = 2,
    .n_outputs = 1,
    .prepare = anchors_prepare,
    .eval = anchors_eval,
    .release = anchors_release,
    .shape_only_inputs = 3, /* feature and image: shapes only, so the node is folded at load */
};
