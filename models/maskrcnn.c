/* Pipeline kind "maskrcnn": torchvision's MaskRCNN / FasterRCNN around a detc graph that follows the
 * contract in models/maskrcnn.md (graph inputs `image` [1, Hp, Wp, 3] f32 and `image_size` i32 [2];
 * outputs boxes, scores, labels, count and, for Mask R-CNN, masks).
 *
 * preprocess (GeneralizedRCNNTransform, eval, torchvision 0.14):
 *   x = ((float)p / 255 - mean) / std                  per channel, in float (to_tensor + normalize)
 *   scale = min(min_size * (1 / short), max_size * (1 / long))   in float: torch computes
 *           `float / tensor` as reciprocal(tensor) * float (plain division differs in 1 ulp for some
 *           sizes, which moves floor() below by one pixel)
 *   out = floor(dim * (double)scale)                   F.interpolate(scale_factor, recompute_scale_factor=True)
 *   bilinear resize to out (align_corners=False, detc_resize_bilinear_f32 = torch's CPU kernel),
 *   zero padding bottom/right to multiples of size_divisible. The graph input is re-shaped with
 *   detc_model_set_input_shape() when the padded size changes; image_size = (out_h, out_w).
 *   With "fixed_size" [W, H] (torchvision's SSD / SSDlite: GeneralizedRCNNTransform(fixed_size=...)) the
 *   image is resized to exactly H x W instead (aspect ratio not kept; F.interpolate(size=...), the same
 *   bilinear kernel with in / out ratios).
 * postprocess (transform.postprocess + paste_masks_in_image):
 *   boxes *= (orig / resized) per axis (ratios in float); masks: padded by 1 pixel, the box expanded by
 *   (M + 2) / M around its centre and truncated to integers, the padded mask resized bilinearly to the
 *   box size (w = x1 - x0 + 1, h = y1 - y0 + 1) and pasted where it overlaps the image; mask = prob >
 *   mask_threshold (0.5). ("mask_padding" other than 1 pads by that many pixels, scale (M + 2p) / M.)
 * Detections below the score threshold (detect option) are not returned: opts->threshold as given,
 * 0 included (every detection the graph returns); NULL options, a negative or a NaN threshold mean
 * the default 0.5. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

/* Used by tests/test_maskrcnn_ops.c (declared there). */
int detc_maskrcnn_resized_size(int h, int w, double min_size, double max_size, int *out_h, int *out_w);
int detc_maskrcnn_fill_image(const detc_image *img, const float mean[3], const float std[3], int out_h, int out_w,
                             int pad_h, int pad_w, float *out);
int detc_maskrcnn_paste_mask(const float *mask, int m, int padding, float threshold, const float box[4], int im_h,
                             int im_w, float *probs, uint8_t *bits);

typedef struct {
    int image, image_size;                         /* graph inputs */
    int boxes, scores, labels, count, masks;       /* outputs; masks -1 when absent (Faster R-CNN) */
    double min_size, max_size;
    float mean[3], std[3];
    float mask_threshold;
    int mask_padding;
    int size_divisible;
    int fixed_w, fixed_h; /* "fixed_size" [w, h]: resize to exactly that (torchvision's SSD transform); 0: off */
} mr_state;

/* Per context: what preprocessing did to the image, for postprocessing. */
typedef struct {
    int resized_h, resized_w;
} mr_work;

static void *mr_new_work(const detc_pipeline *p)
{
    (void)p;
    return calloc(1, sizeof(mr_work));
}

/* ---------------- the numerics, shared with the tests ---------------- */

int detc_maskrcnn_resized_size(int h, int w, double min_size, double max_size, int *out_h, int *out_w)
{
    if (h < 1 || w < 1 || !(min_size > 0) || !(max_size > 0))
        return -1;
    float short_side = (float)(h < w ? h : w), long_side = (float)(h < w ? w : h);
    float a = (1.0f / short_side) * (float)min_size, b = (1.0f / long_side) * (float)max_size;
    float scale = b < a ? b : a; /* torch.min */
    double oh = floor((double)h * (double)scale), ow = floor((double)w * (double)scale);
    if (!(oh >= 1 && ow >= 1 && oh <= 32768 && ow <= 32768))
        return -1;
    *out_h = (int)oh;
    *out_w = (int)ow;
    return 0;
}

int detc_maskrcnn_fill_image(const detc_image *img, const float mean[3], const float std[3], int out_h, int out_w,
                             int pad_h, int pad_w, float *out)
{
    if (!img || !img->pixels || img->channels != 3 || out_h > pad_h || out_w > pad_w)
        return -1;
    size_t n = (size_t)img->width * (size_t)img->height;
    float *norm = malloc(n * 3 * sizeof *norm);
    float *resized = malloc((size_t)out_h * (size_t)out_w * 3 * sizeof *resized);
    if (!norm || !resized) {
        free(norm);
        free(resized);
        return -1;
    }
    for (size_t i = 0; i < n * 3; i++) {
        int c = (int)(i % 3);
        norm[i] = ((float)img->pixels[i] / 255.0f - mean[c]) / std[c];
    }
    int rc = detc_resize_bilinear_f32(norm, img->width, img->height, 3, resized, out_w, out_h);
    if (rc == 0) {
        memset(out, 0, (size_t)pad_h * (size_t)pad_w * 3 * sizeof *out);
        for (int y = 0; y < out_h; y++)
            memcpy(out + (size_t)y * pad_w * 3, resized + (size_t)y * out_w * 3, (size_t)out_w * 3 * sizeof *out);
    }
    free(norm);
    free(resized);
    return rc ? -1 : 0;
}

/* paste_masks_in_image's geometry for one detection: the m x m mask with an expand_masks border of
 * `padding` (torchvision: 1), bilinearly resized to the expanded box (x0, y0, x1, y1, image pixels).
 * *resized (rw wide, its top-left at image pixel origin) is malloc'ed; win = [x0, y0, x1, y1) is the
 * part of it inside the image. *resized is NULL when nothing lands in the image. */
static int paste_resized(const float *mask, int m, int padding, const float box[4], int im_h, int im_w,
                         float **resized, int64_t win[4], int64_t origin[2], int64_t *rw)
{
    *resized = NULL;
    if (m < 1 || im_h < 1 || im_w < 1 || padding < 0 || padding > 1024)
        return -1;
    /* expand_masks: zero border of `padding`; expand_boxes by scale = (M + 2p) / M (a double, applied in float) */
    int pm = m + 2 * padding;
    float scale = (float)((double)pm / (double)m);
    float w_half = (box[2] - box[0]) * 0.5f, h_half = (box[3] - box[1]) * 0.5f;
    float x_c = (box[2] + box[0]) * 0.5f, y_c = (box[3] + box[1]) * 0.5f;
    w_half *= scale;
    h_half *= scale;
    float e[4] = {x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half};
    int64_t b[4];
    for (int i = 0; i < 4; i++) {
        if (!isfinite(e[i]) || fabsf(e[i]) > 1e9f)
            return 0; /* nothing sensible to paste */
        b[i] = (int64_t)e[i]; /* .to(torch.int64) truncates */
    }
    int64_t w = b[2] - b[0] + 1, h = b[3] - b[1] + 1;
    w = w < 1 ? 1 : w;
    h = h < 1 ? 1 : h;
    int64_t x0 = b[0] > 0 ? b[0] : 0, x1 = b[2] + 1 < im_w ? b[2] + 1 : im_w;
    int64_t y0 = b[1] > 0 ? b[1] : 0, y1 = b[3] + 1 < im_h ? b[3] + 1 : im_h;
    /* the pasted window, clipped to the resized mask as well */
    x1 = x1 < b[0] + w ? x1 : b[0] + w;
    y1 = y1 < b[1] + h ? y1 : b[1] + h;
    if (x1 <= x0 || y1 <= y0)
        return 0;
    if (w > 65536 || h > 65536)
        return -1;
    float *padded = calloc((size_t)pm * (size_t)pm, sizeof *padded);
    float *out = malloc((size_t)w * (size_t)h * sizeof *out);
    if (!padded || !out) {
        free(padded);
        free(out);
        return -1;
    }
    for (int y = 0; y < m; y++)
        memcpy(padded + (size_t)(y + padding) * pm + padding, mask + (size_t)y * m, (size_t)m * sizeof *mask);
    int rc = detc_resize_bilinear_f32(padded, pm, pm, 1, out, (int)w, (int)h);
    free(padded);
    if (rc != 0) {
        free(out);
        return -1;
    }
    *resized = out;
    win[0] = x0;
    win[1] = y0;
    win[2] = x1;
    win[3] = y1;
    origin[0] = b[0];
    origin[1] = b[1];
    *rw = w;
    return 0;
}

/* paste_masks_in_image for one detection into a full frame: writes the probabilities (probs, im_h x im_w,
 * zero outside the box) and/or the 0/1 mask (bits, prob > threshold); either may be NULL. */
int detc_maskrcnn_paste_mask(const float *mask, int m, int padding, float threshold, const float box[4], int im_h,
                             int im_w, float *probs, uint8_t *bits)
{
    if (m < 1 || im_h < 1 || im_w < 1)
        return -1;
    size_t npx = (size_t)im_h * (size_t)im_w;
    if (probs)
        memset(probs, 0, npx * sizeof *probs);
    if (bits)
        memset(bits, 0, npx);
    float *resized;
    int64_t win[4], origin[2], w;
    if (paste_resized(mask, m, padding, box, im_h, im_w, &resized, win, origin, &w) != 0)
        return -1;
    for (int64_t y = win[1]; resized && y < win[3]; y++)
        for (int64_t x = win[0]; x < win[2]; x++) {
            float v = resized[(size_t)(y - origin[1]) * (size_t)w + (size_t)(x - origin[0])];
            if (probs)
                probs[(size_t)y * im_w + (size_t)x] = v;
            if (bits)
                bits[(size_t)y * im_w + (size_t)x] = v > threshold;
        }
    free(resized);
    return 0;
}

/* The same 0/1 mask, box-local: det->mask covers only the pasted window, so a detection costs its box, not
 * the whole image. A mask that lands nowhere in the image is an empty window (0 x 0, mask still set: the
 * detection has a mask, all zeros). */
static int paste_local(const float *mask, int m, int padding, float threshold, const float box[4], int im_h,
                       int im_w, detc_detection *det)
{
    float *resized;
    int64_t win[4], origin[2], w;
    if (paste_resized(mask, m, padding, box, im_h, im_w, &resized, win, origin, &w) != 0)
        return -1;
    if (!resized) {
        det->mask = calloc(1, 1);
        det->mask_width = det->mask_height = 0;
        return det->mask ? 0 : -1;
    }
    int ww = (int)(win[2] - win[0]), wh = (int)(win[3] - win[1]);
    det->mask = malloc((size_t)ww * (size_t)wh);
    if (!det->mask) {
        free(resized);
        return -1;
    }
    for (int y = 0; y < wh; y++)
        for (int x = 0; x < ww; x++)
            det->mask[(size_t)y * ww + x] =
                resized[(size_t)(win[1] + y - origin[1]) * (size_t)w + (size_t)(win[0] + x - origin[0])] > threshold;
    det->mask_x = (int)win[0];
    det->mask_y = (int)win[1];
    det->mask_width = ww;
    det->mask_height = wh;
    free(resized);
    return 0;
}

/* ---------------- load ---------------- */

static int graph_input(detc_model *m, detc_errors *errs, const cJSON *in, const char *key, const char *def)
{
    const cJSON *v = detc_json_field(in, key);
    const char *name = cJSON_IsString(v) ? v->valuestring : def;
    char msg[400];
    if (v && !cJSON_IsString(v)) {
        snprintf(msg, sizeof msg, "\"input\".\"%s\" must be a tensor name", key);
        detc_pipeline_error(m, errs, msg, "fix the pipeline");
        return -1;
    }
    int t = detc_find_tensor(m, name);
    if (t < 0 || m->base->g.tensors[t].kind != DETC_TENSOR_INPUT) {
        snprintf(msg, sizeof msg, "\"input\".\"%s\" names '%s', which is not a graph input", key, name);
        detc_pipeline_error(m, errs, msg, "name the graph input (models/maskrcnn.md: `image` and `image_size`)");
        return -1;
    }
    return t;
}

/* An output tensor of the given dtype and rank (dims[i] >= 0 must match). */
static int graph_output(detc_model *m, detc_errors *errs, const cJSON *outs, const char *key, const char *def,
                        detc_dtype dtype, int rank, bool optional)
{
    const cJSON *v = detc_json_field(outs, key);
    char msg[512];
    if (v && !cJSON_IsString(v)) {
        snprintf(msg, sizeof msg, "\"outputs\".\"%s\" must be a tensor name", key);
        detc_pipeline_error(m, errs, msg, "fix the pipeline");
        return -1;
    }
    const char *name = v ? v->valuestring : def;
    int t = detc_find_tensor(m, name);
    if (t < 0) {
        if (optional && !v)
            return -1;
        snprintf(msg, sizeof msg, "output \"%s\" names tensor '%s', which is not in the graph", key, name);
        detc_pipeline_error(m, errs, msg, "fix the name in \"outputs\"");
        return -1;
    }
    const detc_tensor *tt = &m->base->g.tensors[t];
    if (tt->poisoned)
        return -1;
    if (tt->dtype != dtype || tt->rank != rank) {
        snprintf(msg, sizeof msg, "output \"%s\" '%s' is %s of rank %d, expected %s of rank %d", key, tt->name,
                 detc_dtype_name(tt->dtype), tt->rank, detc_dtype_name(dtype), rank);
        detc_pipeline_error(m, errs, msg, "point it at the tensor models/maskrcnn.md describes");
        return -1;
    }
    return detc_pipeline_kept(m, errs, key, t) == 0 ? t : -1;
}

static bool read_number(const cJSON *in, const char *key, double def, double lo, double hi, double *out)
{
    const cJSON *v = detc_json_field(in, key);
    *out = def;
    if (!v)
        return true;
    return detc_json_number(v, lo, hi, out);
}

static bool read_triplet(const cJSON *in, const char *key, const float def[3], float out[3])
{
    const cJSON *v = detc_json_field(in, key);
    memcpy(out, def, 3 * sizeof *out);
    if (!v)
        return true;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return false;
    for (int c = 0; c < 3; c++) {
        double d;
        if (!detc_json_number(cJSON_GetArrayItem(v, c), -1e6, 1e6, &d))
            return false;
        out[c] = (float)d;
    }
    return true;
}

static int mr_load(detc_model *m, detc_pipeline *p, const cJSON *pj, detc_errors *errs)
{
    static const float def_mean[3] = {0.485f, 0.456f, 0.406f}, def_std[3] = {0.229f, 0.224f, 0.225f};
    int before = errs->count;
    mr_state *s = calloc(1, sizeof *s);
    if (!s) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    p->state = s;
    const cJSON *in = detc_json_field(pj, "input"), *outs = detc_json_field(pj, "outputs");
    if (!cJSON_IsObject(in) || !cJSON_IsObject(outs)) {
        detc_pipeline_error(m, errs, "a \"maskrcnn\" pipeline needs \"input\" and \"outputs\" objects",
                            "see models/README.md");
        return -1;
    }
    s->image = graph_input(m, errs, in, "tensor", "image");
    s->image_size = graph_input(m, errs, in, "image_size", "image_size");
    const cJSON *color = detc_json_field(in, "color"), *resize = detc_json_field(in, "resize");
    if (color && !(cJSON_IsString(color) && strcmp(color->valuestring, "rgb") == 0))
        detc_pipeline_error(m, errs,
                            "\"input\".\"color\" must be \"rgb\" for a maskrcnn pipeline (torchvision models take "
                            "RGB)",
                            "fix the pipeline");
    if (resize && !(cJSON_IsString(resize) && strcmp(resize->valuestring, "bilinear") == 0))
        detc_pipeline_error(m, errs,
                            "\"input\".\"resize\" must be \"bilinear\" for a maskrcnn pipeline (torchvision's "
                            "F.interpolate, align_corners=False; the aspect ratio is kept)",
                            "fix the pipeline");
    double div = 32;
    if (!read_number(in, "min_size", 800, 1, 16384, &s->min_size) ||
        !read_number(in, "max_size", 1333, 1, 16384, &s->max_size) ||
        !read_number(in, "size_divisible", 32, 1, 1024, &div) || div != floor(div))
        detc_pipeline_error(m, errs,
                            "\"min_size\" and \"max_size\" must be numbers in 1..16384 and \"size_divisible\" an "
                            "integer in 1..1024",
                            "fix the pipeline");
    s->size_divisible = (int)div;
    const cJSON *fixed = detc_json_field(in, "fixed_size");
    if (fixed) {
        const cJSON *fw = cJSON_GetArrayItem(fixed, 0), *fh = cJSON_GetArrayItem(fixed, 1);
        if (!cJSON_IsArray(fixed) || cJSON_GetArraySize(fixed) != 2 || !cJSON_IsNumber(fw) || !cJSON_IsNumber(fh) ||
            fw->valuedouble != floor(fw->valuedouble) || fh->valuedouble != floor(fh->valuedouble) ||
            fw->valuedouble < 1 || fw->valuedouble > 16384 || fh->valuedouble < 1 || fh->valuedouble > 16384)
            detc_pipeline_error(m, errs, "\"fixed_size\" must be [width, height], integers in 1..16384",
                                "fix the pipeline");
        else {
            s->fixed_w = (int)fw->valuedouble;
            s->fixed_h = (int)fh->valuedouble;
        }
    }
    if (!read_triplet(in, "mean", def_mean, s->mean) || !read_triplet(in, "std", def_std, s->std) ||
        s->std[0] == 0.0f || s->std[1] == 0.0f || s->std[2] == 0.0f)
        detc_pipeline_error(m, errs, "\"mean\" and \"std\" must be lists of 3 finite numbers (on 0..1 values), std "
                                     "non-zero",
                            "fix the pipeline");
    if (s->image >= 0) {
        const detc_tensor *t = &m->base->g.tensors[s->image];
        if (t->dtype != DETC_F32 || t->rank != 4 || t->dims[0] != 1 || t->dims[3] != 3) {
            char shape[128], msg[300];
            detc_shape_str(t->rank, t->dims, shape, sizeof shape);
            snprintf(msg, sizeof msg, "input '%s' is %s %s, expected f32 [1, H, W, 3]", t->name,
                     detc_dtype_name(t->dtype), shape);
            detc_pipeline_error(m, errs, msg, "convert the model again (models/maskrcnn.md)");
        }
    }
    if (s->image_size >= 0) {
        const detc_tensor *t = &m->base->g.tensors[s->image_size];
        if (t->dtype != DETC_I32 || t->rank != 1 || t->dims[0] != 2) {
            char msg[300];
            snprintf(msg, sizeof msg, "input '%s' must be i32 [2] (resized height, width)", t->name);
            detc_pipeline_error(m, errs, msg, "convert the model again (models/maskrcnn.md)");
        }
    }
    s->boxes = graph_output(m, errs, outs, "boxes", "detections/boxes", DETC_F32, 2, false);
    s->scores = graph_output(m, errs, outs, "scores", "detections/scores", DETC_F32, 1, false);
    s->labels = graph_output(m, errs, outs, "labels", "detections/labels", DETC_I32, 1, false);
    s->count = graph_output(m, errs, outs, "count", "detections/count", DETC_I32, 1, false);
    s->masks = graph_output(m, errs, outs, "masks", "mask/probs", DETC_F32, 3, true);
    double thr = 0.5, pad = 1;
    if (!read_number(outs, "mask_threshold", 0.5, 0.0, 1.0, &thr) ||
        !read_number(outs, "mask_padding", 1, 0, 64, &pad) || pad != floor(pad))
        detc_pipeline_error(m, errs,
                            "\"mask_threshold\" must be a number in 0..1 and \"mask_padding\" an integer in 0..64",
                            "fix the pipeline (torchvision: 0.5 and 1)");
    s->mask_threshold = (float)thr;
    s->mask_padding = (int)pad;
    if (s->boxes >= 0 && s->scores >= 0 && s->labels >= 0) {
        const detc_tensor *b = &m->base->g.tensors[s->boxes], *sc = &m->base->g.tensors[s->scores], *l = &m->base->g.tensors[s->labels];
        if (b->dims[1] != 4 || sc->dims[0] != b->dims[0] || l->dims[0] != b->dims[0])
            detc_pipeline_error(m, errs, "boxes must be [D, 4] and scores / labels [D] with the same D",
                                "point the outputs at box_detections' outputs");
        if (s->masks >= 0) {
            const detc_tensor *mk = &m->base->g.tensors[s->masks];
            if (mk->dims[0] != b->dims[0] || mk->dims[1] != mk->dims[2] || mk->dims[1] < 1)
                detc_pipeline_error(m, errs, "masks must be [D, M, M] with the D of boxes",
                                    "point \"masks\" at mask_select's output");
        }
    }
    return errs->count > before ? -1 : 0;
}

/* ---------------- preprocess / postprocess ---------------- */

static int mr_preprocess(detc_context *c, const detc_pipeline *p, void *work, const detc_image *img, const detc_detect_options *opts,
                         detc_errors *errs)
{
    const mr_state *s = p->state;
    mr_work *wk = work;
    if (opts && opts->resize && strcmp(opts->resize, "bilinear") != 0) {
        detc_errors_add(errs, DETC_ERR_ARG, -1,
                        "%s: a maskrcnn pipeline resizes as torchvision does (bilinear, aspect ratio kept); resize "
                        "mode '%s' does not apply: leave --resize out",
                        c->g.model_name, opts->resize);
        return -1;
    }
    if (!img || !img->pixels || img->channels != 3 || img->width < 1 || img->height < 1) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "the image must be RGB with at least one pixel");
        return -1;
    }
    int oh = s->fixed_h, ow = s->fixed_w;
    if (!s->fixed_h && detc_maskrcnn_resized_size(img->height, img->width, s->min_size, s->max_size, &oh, &ow) != 0) {
        detc_errors_add(errs, DETC_ERR_IMAGE, -1,
                        "%s: a %dx%d image cannot be resized with min_size %g and max_size %g (the result must "
                        "have 1..32768 pixels per side)",
                        c->g.model_name, img->width, img->height, s->min_size, s->max_size);
        return -1;
    }
    int d = s->size_divisible;
    int64_t dims[4] = {1, ((int64_t)oh + d - 1) / d * d, ((int64_t)ow + d - 1) / d * d, 3};
    if (detc_context_set_input_shape(c, s->image, 4, dims, errs) != 0)
        return -1;
    detc_tensor *t = &c->g.tensors[s->image];
    if (!t->data ||
        detc_maskrcnn_fill_image(img, s->mean, s->std, oh, ow, (int)dims[1], (int)dims[2], t->data) != 0) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory while resizing the image");
        return -1;
    }
    int32_t size[2] = {oh, ow};
    detc_tensor *st = &c->g.tensors[s->image_size];
    if (!st->data) {
        detc_errors_add(errs, DETC_ERR_RUNTIME, -1, "%s: input '%s' has no memory", c->g.model_name, st->name);
        return -1;
    }
    memcpy(st->data, size, sizeof size);
    wk->resized_h = oh;
    wk->resized_w = ow;
    return 0;
}

static int mr_postprocess(detc_context *c, const detc_pipeline *p, void *work, const detc_image *img, const detc_detect_options *opts,
                          detc_detections *out, detc_errors *errs)
{
    const mr_state *s = p->state;
    const mr_work *wk = work;
    float threshold = detc_score_threshold(opts, 0.5f);
    const float *boxes = c->g.tensors[s->boxes].data, *scores = c->g.tensors[s->scores].data;
    const int32_t *labels = c->g.tensors[s->labels].data;
    int32_t count;
    memcpy(&count, c->g.tensors[s->count].data, sizeof count);
    int D = c->g.tensors[s->scores].dims[0];
    int n = count < 0 ? 0 : count > D ? D : count;
    out->items = calloc((size_t)n + 1, sizeof *out->items);
    if (!out->items) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    /* transform.postprocess: resize_boxes with ratio = original / resized, each in float */
    float rh = (float)img->height / (float)wk->resized_h, rw = (float)img->width / (float)wk->resized_w;
    const float *masks = s->masks >= 0 ? c->g.tensors[s->masks].data : NULL;
    int M = s->masks >= 0 ? c->g.tensors[s->masks].dims[1] : 0;
    for (int i = 0; i < n; i++) {
        if (!(scores[i] >= threshold))
            continue;
        const float *b = boxes + (size_t)i * 4;
        float ob[4] = {b[0] * rw, b[1] * rh, b[2] * rw, b[3] * rh};
        if (!isfinite(ob[0]) || !isfinite(ob[1]) || !isfinite(ob[2]) || !isfinite(ob[3]))
            continue; /* a NaN or infinite box (broken weights) is no detection */
        detc_detection *det = &out->items[out->count];
        if (masks) {
            if (paste_local(masks + (size_t)i * M * M, M, s->mask_padding, s->mask_threshold, ob, img->height,
                            img->width, det) != 0) {
                free(det->mask);
                det->mask = NULL;
                detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory while pasting masks");
                return -1;
            }
        }
        det->x0 = ob[0];
        det->y0 = ob[1];
        det->x1 = ob[2];
        det->y1 = ob[3];
        det->score = scores[i];
        det->class_id = labels[i];
        det->label = detc_label(c->model, det->class_id);
        out->count++;
    }
    return 0;
}

const detc_pipeline_kind detc_pipeline_maskrcnn = {
    .name = "maskrcnn",
    .load = mr_load,
    .preprocess = mr_preprocess,
    .postprocess = mr_postprocess,
    .new_work = mr_new_work,
};
