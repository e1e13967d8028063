/* box_detections: torchvision's RoIHeads.postprocess_detections (models/detection/roi_heads.py), batch 1.
 *
 * Inputs: class_logits [R, K], box_regression [R, 4K] (class-major: k*4 + (dx, dy, dw, dh)), proposals
 * [R, 4] (x0, y0, x1, y1), count i32 [1] (valid proposals), image_size i32 [2] (height, width).
 * Outputs: boxes [D, 4], scores [D], labels i32 [D] (1..K-1; 0 is the background), count i32 [1]; rows past
 * count are zero.
 *
 * For each valid proposal: softmax over the K logits (max-subtracted exp, times 1/sum, as torch's CPU
 * softmax), decode every class's box (BoxCoder weights, default [10, 10, 5, 5], dw/dh clamped at
 * log(1000/16)), clip to image_size. Drop class 0, flatten (proposal-major, class-minor), keep score >
 * score_threshold, drop boxes with a side < min_size, torchvision.ops.batched_nms by class
 * (nms_batched_torchvision), keep the first D by score.
 * Attributes: score_threshold (0.05), nms_threshold (0.5), detections_per_img (D, 100), weights, min_size
 * (1e-2), bbox_xform_clip, topk_candidates (0). f32 only.
 *
 * Class-agnostic regression (box_regression [R, 4]: one box per row for every class, torchvision's SSD)
 * decodes the row's box for each class. topk_candidates T > 0 is torchvision's SSD.postprocess_detections
 * (models/detection/ssd.py): per class 1..K-1 the rows with score > score_threshold, the T best of them
 * (torch.topk's order, nms_topk_torch), candidates class-major in that order; then the same min_size check,
 * batched NMS and top D. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nms_util.h"
#include "op_util.h"
#include "ops.h"

typedef struct {
    int rois, classes, dets;
    float score_threshold, nms_threshold, min_size, clip;
    float weights[4];
    int topk;          /* topk_candidates per class (SSD); 0: every candidate, proposal-major */
    bool agnostic;     /* box_regression [R, 4] */
    size_t at_probs, at_boxes, at_scores, at_labels, at_keep, at_work, at_entries, at_rows;
} bd_data;

static size_t take(size_t *cursor, size_t bytes)
{
    size_t at = *cursor;
    *cursor += op_align(bytes);
    return at;
}

static bool parse_attrs(detc_prep *p, bd_data *d)
{
    static const float def_w[4] = {10, 10, 5, 5};
    int64_t dets;
    double score, nms, min_size, clip;
    bool ok = detc_attr_float(p, "score_threshold", false, 0.05, -1e9, 1e9, &score);
    ok = detc_attr_float(p, "nms_threshold", false, 0.5, 0.0, 1.0, &nms) && ok;
    ok = detc_attr_int(p, "detections_per_img", false, 100, 1, 100000, &dets) && ok;
    ok = detc_attr_float(p, "min_size", false, 1e-2, 0.0, 1e9, &min_size) && ok;
    ok = detc_attr_float(p, "bbox_xform_clip", false, log(1000.0 / 16.0), -1e3, 1e3, &clip) && ok;
    ok = nms_attr_floats(p, "weights", 4, def_w, d->weights) && ok;
    int64_t topk;
    ok = detc_attr_int(p, "topk_candidates", false, 0, 0, 1 << 24, &topk) && ok;
    d->topk = (int)topk;
    for (int i = 0; ok && i < 4; i++)
        if (!(d->weights[i] != 0.0f)) {
            detc_prep_error(p, DETC_ERR_ATTR, "attribute 'weights'[%d] is 0; the box coder divides by it", i);
            ok = false;
        }
    d->dets = (int)dets;
    d->score_threshold = (float)score;
    d->nms_threshold = (float)nms;
    d->min_size = (float)min_size;
    d->clip = (float)clip;
    return ok;
}

static bool check_operands(detc_prep *p, bd_data *d)
{
    static const char *const roles[5] = {"class_logits", "box_regression", "proposals", "count", "image_size"};
    for (int i = 0; i < 5; i++)
        if (!detc_prep_require_input(p, i, roles[i]))
            return false;
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        ok = detc_prep_dtype(p, i, DETC_MASK(DETC_F32), "box_detections is f32 only; keep the box head f32") && ok;
        ok = detc_prep_rank(p, i, 2, 2) && ok;
    }
    ok = detc_prep_dtype(p, 3, DETC_MASK(DETC_I32), "count must be i32 [1], as rpn_proposals gives it") && ok;
    ok = detc_prep_dtype(p, 4, DETC_MASK(DETC_I32), "image_size must be i32 [2] (height, width)") && ok;
    ok = detc_prep_rank(p, 3, 1, 1) && ok;
    ok = detc_prep_rank(p, 4, 1, 1) && ok;
    if (!ok)
        return false;
    const detc_tensor *cl = detc_prep_in(p, 0), *br = detc_prep_in(p, 1), *pr = detc_prep_in(p, 2);
    char cs[128], bs[128], ps[128];
    detc_shape_str(cl->rank, cl->dims, cs, sizeof cs);
    detc_shape_str(br->rank, br->dims, bs, sizeof bs);
    detc_shape_str(pr->rank, pr->dims, ps, sizeof ps);
    if (cl->dims[0] < 1 || cl->dims[1] < 2 || br->dims[0] != cl->dims[0] || pr->dims[0] != cl->dims[0] ||
        ((int64_t)br->dims[1] != 4 * (int64_t)cl->dims[1] && br->dims[1] != 4) || pr->dims[1] != 4) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "class logits %s, box regression %s and proposals %s must be [R, K], [R, 4K] (or [R, 4], "
                        "class-agnostic) and [R, 4] with K >= 2 (background first)",
                        cs, bs, ps);
        ok = false;
    }
    if (detc_prep_in(p, 3)->dims[0] != 1 || detc_prep_in(p, 4)->dims[0] != 2) {
        detc_prep_error(p, DETC_ERR_SHAPE, "count must be [1] and image_size [2] (height, width)");
        ok = false;
    }
    if ((int64_t)cl->dims[0] * cl->dims[1] > INT32_MAX / 16) {
        detc_prep_error(p, DETC_ERR_SHAPE, "%s gives too many candidate boxes", cs);
        ok = false;
    }
    d->rois = cl->dims[0];
    d->classes = cl->dims[1];
    d->agnostic = br->dims[1] == 4;
    return ok;
}

static bool bd_prepare(detc_prep *p)
{
    bd_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    bool ok = op_check_counts(p);
    ok = parse_attrs(p, d) && ok;
    if (!ok || !check_operands(p, d))
        return false;
    int32_t bdims[2] = {d->dets, 4}, ddims[1] = {d->dets}, one[1] = {1};
    ok = detc_prep_set_output(p, 0, DETC_F32, 2, bdims, NULL, false);
    ok = detc_prep_set_output(p, 1, DETC_F32, 1, ddims, NULL, false) && ok;
    ok = detc_prep_set_output(p, 2, DETC_I32, 1, ddims, NULL, false) && ok;
    ok = detc_prep_set_output(p, 3, DETC_I32, 1, one, NULL, false) && ok;
    if (!ok)
        return false;
    size_t c = 0, cand = (size_t)d->rois * (size_t)(d->classes - 1);
    d->at_probs = take(&c, (size_t)d->classes * sizeof(float));
    d->at_boxes = take(&c, cand * 4 * sizeof(float));
    d->at_scores = take(&c, cand * sizeof(float));
    d->at_labels = take(&c, cand * sizeof(int));
    d->at_keep = take(&c, cand * sizeof(int));
    d->at_work = take(&c, nms_work_bytes((int)cand, d->classes));
    if (d->topk > 0) { /* every row's probabilities, one class's candidates */
        d->at_probs = take(&c, (size_t)d->rois * (size_t)d->classes * sizeof(float));
        d->at_entries = take(&c, (size_t)d->rois * sizeof(nms_entry));
        d->at_rows = take(&c, (size_t)d->rois * sizeof(int));
    }
    p->node->scratch_bytes = c;
    return true;
}

/* torch's softmax over the last dim on CPU (_vec_softmax_lastdim): exp(x - max), times 1 / sum. */
static void softmax(const float *x, int k, float *out)
{
    float mx = x[0];
    for (int i = 1; i < k; i++)
        mx = (x[i] > mx || isnan(x[i])) ? x[i] : mx;
    float sum = 0.0f;
    for (int i = 0; i < k; i++) {
        out[i] = expf(x[i] - mx);
        sum += out[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < k; i++)
        out[i] *= inv;
}

/* Candidate n: row r's box for class k decoded and clipped; 1 when kept (sides >= min_size), else 0. */
static int candidate(const bd_data *d, const float *props, const float *reg, int r, int k, float score, float img_h,
                     float img_w, float *boxes, float *scores, int *labels, int n)
{
    float *b = boxes + (size_t)n * 4;
    const float *delta = reg + ((size_t)r * (d->agnostic ? 1 : d->classes) + (d->agnostic ? 0 : k)) * 4;
    nms_decode_box(props + (size_t)r * 4, delta, d->weights, d->clip, b);
    nms_clip_box(b, img_h, img_w);
    if (!(b[2] - b[0] >= d->min_size && b[3] - b[1] >= d->min_size))
        return 0;
    scores[n] = score;
    labels[n] = k;
    return 1;
}

static detc_code bd_eval(const detc_exec *x, detc_node *node)
{
    const bd_data *d = node->op_data;
    if (!x->scratch)
        return DETC_ERR_RUNTIME;
    uint8_t *s = x->scratch;
    float *probs = (float *)(void *)(s + d->at_probs), *boxes = (float *)(void *)(s + d->at_boxes);
    float *scores = (float *)(void *)(s + d->at_scores);
    int *labels = (int *)(void *)(s + d->at_labels), *keep = (int *)(void *)(s + d->at_keep);
    const float *logits = detc_in(x->g, node, 0)->data, *reg = detc_in(x->g, node, 1)->data;
    const float *props = detc_in(x->g, node, 2)->data;
    int32_t count = op_read_i32(detc_in(x->g, node, 3), 0);
    count = count < 0 ? 0 : count > d->rois ? d->rois : count;
    const detc_tensor *size = detc_in(x->g, node, 4);
    float img_h = (float)op_read_i32(size, 0), img_w = (float)op_read_i32(size, 1);
    int K = d->classes, n = 0;
    if (d->topk > 0) {
        nms_entry *e = (nms_entry *)(void *)(s + d->at_entries);
        int *rows = (int *)(void *)(s + d->at_rows);
        for (int r = 0; r < count; r++)
            softmax(logits + (size_t)r * K, K, probs + (size_t)r * K);
        for (int k = 1; k < K; k++) {
            int m = 0;
            for (int r = 0; r < count; r++)
                if (probs[(size_t)r * K + k] > d->score_threshold) {
                    e[m] = (nms_entry){probs[(size_t)r * K + k], m};
                    rows[m++] = r;
                }
            int t = m < d->topk ? m : d->topk;
            nms_topk_torch(e, m, t);
            for (int i = 0; i < t; i++)
                n += candidate(d, props, reg, rows[e[i].index], k, e[i].score, img_h, img_w, boxes, scores, labels, n);
        }
    }
    for (int r = 0; d->topk == 0 && r < count; r++) {
        softmax(logits + (size_t)r * K, K, probs);
        for (int k = 1; k < K; k++) {
            if (probs[k] > d->score_threshold)
                n += candidate(d, props, reg, r, k, probs[k], img_h, img_w, boxes, scores, labels, n);
        }
    }
    nms_work work;
    nms_work_init(&work, s + d->at_work, n, K);
    int kept = nms_batched_torchvision(boxes, scores, labels, n, d->nms_threshold, keep, &work);
    if (kept > d->dets)
        kept = d->dets;
    float *ob = detc_out(x->g, node, 0)->data, *os = detc_out(x->g, node, 1)->data;
    int32_t *ol = detc_out(x->g, node, 2)->data;
    memset(ob, 0, (size_t)d->dets * 4 * sizeof *ob);
    memset(os, 0, (size_t)d->dets * sizeof *os);
    memset(ol, 0, (size_t)d->dets * sizeof *ol);
    for (int t = 0; t < kept; t++) {
        memcpy(ob + (size_t)t * 4, boxes + (size_t)keep[t] * 4, 4 * sizeof *ob);
        os[t] = scores[keep[t]];
        ol[t] = labels[keep[t]];
    }
    int32_t c = kept;
    memcpy(detc_out(x->g, node, 3)->data, &c, sizeof c);
    return DETC_OK;
}

const detc_op detc_op_box_detections = {
    .name = "box_detections",
    .min_inputs = 5,
    .max_inputs = 5,
    .n_outputs = 4,
    .prepare = bd_prepare,
    .eval = bd_eval,
};
