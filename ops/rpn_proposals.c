/* rpn_proposals: torchvision's RegionProposalNetwork at inference (models/detection/rpn.py: decode +
 * filter_proposals), batch 1, NHWC.
 *
 * Inputs, per level L (1..8 levels): objectness_L [1, h, w, A] (logits), deltas_L [1, h, w, 4A] (channel
 * a*4 + (dx, dy, dw, dh)), anchors_L [h*w*A, 4]; then image_size i32 [2] (resized, unpadded height and
 * width). Outputs: proposals [P, 4] (x0, y0, x1, y1), count i32 [1]; rows past count are zero.
 *
 * 1. Per level, the k = min(pre_nms_top_n, h*w*A) largest logits, in torch.topk's order (nms_topk_torch).
 * 2. Decode against the anchors (BoxCoder weights, dw/dh clamped at bbox_xform_clip = log(1000/16)),
 *    clip to image_size, drop boxes with a side < min_size, score = sigmoid(logit), drop score <
 *    score_threshold.
 * 3. torchvision.ops.batched_nms with the level as the group (nms_batched_torchvision), keep the first
 *    post_nms_top_n (= P) by score.
 * Attributes: pre_nms_top_n, post_nms_top_n (required), nms_threshold (0.7), min_size (1e-3),
 * score_threshold (0.0), weights ([1, 1, 1, 1]), bbox_xform_clip (log(1000/16)). f32 only. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nms_util.h"
#include "op_util.h"
#include "ops.h"

#define RPN_MAX_LEVELS 8

typedef struct {
    int levels;
    int n[RPN_MAX_LEVELS]; /* h*w*A per level */
    int k[RPN_MAX_LEVELS]; /* candidates taken per level */
    int total;             /* sum of k */
    int max_n;
    int post;              /* P */
    float nms_threshold, min_size, score_threshold, clip;
    float weights[4];
    size_t at_entries, at_boxes, at_scores, at_groups, at_keep, at_work;
} rpn_data;

static size_t take(size_t *cursor, size_t bytes)
{
    size_t at = *cursor;
    *cursor += op_align(bytes);
    return at;
}

static bool parse_attrs(detc_prep *p, rpn_data *d, int64_t *pre)
{
    static const float ones[4] = {1, 1, 1, 1};
    int64_t post;
    double nms, min_size, score, clip;
    bool ok = detc_attr_int(p, "pre_nms_top_n", true, 0, 1, 1000000, pre);
    ok = detc_attr_int(p, "post_nms_top_n", true, 0, 1, 1000000, &post) && ok;
    ok = detc_attr_float(p, "nms_threshold", false, 0.7, 0.0, 1.0, &nms) && ok;
    ok = detc_attr_float(p, "min_size", false, 1e-3, 0.0, 1e9, &min_size) && ok;
    ok = detc_attr_float(p, "score_threshold", false, 0.0, -1e9, 1e9, &score) && ok;
    ok = detc_attr_float(p, "bbox_xform_clip", false, log(1000.0 / 16.0), -1e3, 1e3, &clip) && ok;
    ok = nms_attr_floats(p, "weights", 4, ones, d->weights) && ok;
    for (int i = 0; ok && i < 4; i++)
        if (!(d->weights[i] != 0.0f)) {
            detc_prep_error(p, DETC_ERR_ATTR, "attribute 'weights'[%d] is 0; the box coder divides by it", i);
            ok = false;
        }
    d->post = (int)post;
    d->nms_threshold = (float)nms;
    d->min_size = (float)min_size;
    d->score_threshold = (float)score;
    d->clip = (float)clip;
    return ok;
}

static bool check_level(detc_prep *p, rpn_data *d, int level)
{
    int s = level * 3;
    const detc_tensor *o = detc_prep_in(p, s), *dl = detc_prep_in(p, s + 1), *a = detc_prep_in(p, s + 2);
    char os[128], ds[128], as[128];
    detc_shape_str(o->rank, o->dims, os, sizeof os);
    detc_shape_str(dl->rank, dl->dims, ds, sizeof ds);
    detc_shape_str(a->rank, a->dims, as, sizeof as);
    int64_t n = (int64_t)o->dims[1] * o->dims[2] * o->dims[3];
    if (o->dims[0] != 1 || n < 1 || dl->dims[0] != 1 || dl->dims[1] != o->dims[1] || dl->dims[2] != o->dims[2] ||
        (int64_t)dl->dims[3] != 4 * (int64_t)o->dims[3] || a->dims[0] != n || a->dims[1] != 4 || n > INT32_MAX / 16) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "level %d: objectness %s, deltas %s and anchors %s must be [1, h, w, A], [1, h, w, 4A] and "
                        "[h*w*A, 4]; connect the RPN head outputs and the anchors of the same feature map",
                        level, os, ds, as);
        return false;
    }
    d->n[level] = (int)n;
    return true;
}

static bool rpn_prepare(detc_prep *p)
{
    rpn_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    int64_t pre = 0;
    bool ok = op_check_counts(p);
    ok = parse_attrs(p, d, &pre) && ok;
    int n_in = p->node->n_inputs;
    if (n_in < 4 || (n_in - 1) % 3 != 0 || (n_in - 1) / 3 > RPN_MAX_LEVELS) {
        detc_prep_error(p, DETC_ERR_GRAPH,
                        "has %d inputs; rpn_proposals takes (objectness, deltas, anchors) for each of 1..%d levels, "
                        "then image_size, i.e. 3L + 1 inputs",
                        n_in, RPN_MAX_LEVELS);
        return false;
    }
    d->levels = (n_in - 1) / 3;
    for (int i = 0; i < n_in; i++) {
        static const char *const roles[3] = {"objectness", "deltas", "anchors"};
        if (!detc_prep_require_input(p, i, i == n_in - 1 ? "image_size" : roles[i % 3]))
            return false;
    }
    for (int i = 0; i < n_in - 1; i++) {
        ok = detc_prep_dtype(p, i, DETC_MASK(DETC_F32), "rpn_proposals is f32 only; keep the RPN head f32") && ok;
        ok = detc_prep_rank(p, i, i % 3 == 2 ? 2 : 4, i % 3 == 2 ? 2 : 4) && ok;
    }
    ok = detc_prep_dtype(p, n_in - 1, DETC_MASK(DETC_I32), "image_size must be i32 [2] (height, width)") && ok;
    ok = detc_prep_rank(p, n_in - 1, 1, 1) && ok;
    if (!ok)
        return false;
    const detc_tensor *size = detc_prep_in(p, n_in - 1);
    if (size->dims[0] != 2) {
        detc_prep_error(p, DETC_ERR_SHAPE, "image_size must have shape [2] (height, width), found [%d]",
                        (int)size->dims[0]);
        ok = false;
    }
    for (int l = 0; l < d->levels; l++)
        ok = check_level(p, d, l) && ok;
    if (!ok)
        return false;
    d->total = 0;
    d->max_n = 0;
    for (int l = 0; l < d->levels; l++) {
        d->k[l] = pre < d->n[l] ? (int)pre : d->n[l];
        d->total += d->k[l];
        d->max_n = d->n[l] > d->max_n ? d->n[l] : d->max_n;
    }
    int32_t pdims[2] = {d->post, 4}, one[1] = {1};
    ok = detc_prep_set_output(p, 0, DETC_F32, 2, pdims, NULL, false);
    ok = detc_prep_set_output(p, 1, DETC_I32, 1, one, NULL, false) && ok;
    if (!ok)
        return false;
    size_t c = 0, t = (size_t)d->total;
    d->at_entries = take(&c, (size_t)d->max_n * sizeof(nms_entry));
    d->at_boxes = take(&c, t * 4 * sizeof(float));
    d->at_scores = take(&c, t * sizeof(float));
    d->at_groups = take(&c, t * sizeof(int));
    d->at_keep = take(&c, t * sizeof(int));
    d->at_work = take(&c, nms_work_bytes(d->total, d->levels));
    p->node->scratch_bytes = c;
    return true;
}

static detc_code rpn_eval(const detc_exec *x, detc_node *node)
{
    const rpn_data *d = node->op_data;
    if (!x->scratch)
        return DETC_ERR_RUNTIME;
    uint8_t *s = x->scratch;
    nms_entry *entries = (nms_entry *)(void *)(s + d->at_entries);
    float *boxes = (float *)(void *)(s + d->at_boxes), *scores = (float *)(void *)(s + d->at_scores);
    int *groups = (int *)(void *)(s + d->at_groups), *keep = (int *)(void *)(s + d->at_keep);
    nms_work work;
    nms_work_init(&work, s + d->at_work, d->total, d->levels);
    const detc_tensor *size = detc_in(x->g, node, 3 * d->levels);
    float img_h = (float)op_read_i32(size, 0), img_w = (float)op_read_i32(size, 1);
    int n = 0;
    for (int l = 0; l < d->levels; l++) {
        const float *obj = detc_in(x->g, node, 3 * l)->data;
        const float *deltas = detc_in(x->g, node, 3 * l + 1)->data;
        const float *anchors = detc_in(x->g, node, 3 * l + 2)->data;
        for (int i = 0; i < d->n[l]; i++)
            entries[i] = (nms_entry){obj[i], i};
        nms_topk_torch(entries, d->n[l], d->k[l]);
        for (int t = 0; t < d->k[l]; t++) {
            int i = entries[t].index;
            float *b = boxes + (size_t)n * 4;
            nms_decode_box(anchors + (size_t)i * 4, deltas + (size_t)i * 4, d->weights, d->clip, b);
            nms_clip_box(b, img_h, img_w);
            if (!(b[2] - b[0] >= d->min_size && b[3] - b[1] >= d->min_size))
                continue;
            float score = 1.0f / (1.0f + expf(-entries[t].score));
            if (!(score >= d->score_threshold))
                continue;
            scores[n] = score;
            groups[n] = l;
            n++;
        }
    }
    int kept = nms_batched_torchvision(boxes, scores, groups, n, d->nms_threshold, keep, &work);
    if (kept > d->post)
        kept = d->post;
    float *out = detc_out(x->g, node, 0)->data;
    for (int t = 0; t < kept; t++)
        memcpy(out + (size_t)t * 4, boxes + (size_t)keep[t] * 4, 4 * sizeof(float));
    memset(out + (size_t)kept * 4, 0, (size_t)(d->post - kept) * 4 * sizeof(float));
    int32_t c = kept;
    memcpy(detc_out(x->g, node, 1)->data, &c, sizeof c);
    return DETC_OK;
}

const detc_op detc_op_rpn_proposals = {
    .name = "rpn_proposals",
    .min_inputs = 4,
    .max_inputs = 3 * RPN_MAX_LEVELS + 1,
    .n_outputs = 2,
    .prepare = rpn_prepare,
    .eval = rpn_eval,
};
