/* non_max_suppression: standalone per-class NMS over a batch, with ONNX NonMaxSuppression's layout, for
 * TensorFlow Object Detection API graphs (NonMaxSuppressionV3 per class) and ONNX models.
 *
 * Inputs: boxes f32 [B, N, 4], scores f32 [B, C, N] (batch, class, box).
 * Outputs: selected i32 [R, 3] with R = max(B * C * min(max_output_boxes_per_class, N), 1): rows
 *          (batch, class, box index), batch-major, then class, then by decreasing score within a class,
 *          as ONNX orders them; rows after `count` are zero. count i32 [1].
 *
 * Attributes:
 *   max_output_boxes_per_class  required, 0..2^31-1 (at most this many boxes kept per batch and class;
 *                               0 selects nothing, as ONNX's default)
 *   iou_threshold               0..1, default 0 (ONNX's default)
 *   score_threshold             finite; only boxes with score > threshold are candidates. Absent: every
 *                               box whose score is > -inf (TF/ONNX rules; NaN scores are never selected),
 *                               or every box (torchvision rules).
 *   center_point_box            0 (default): [y1, x1, y2, x2] (any corner order with TF rules);
 *                               1: [x_center, y_center, width, height], turned into corners
 *                               xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2 in f32.
 *   rules                       "tensorflow" (default): TF NonMaxSuppressionV3 / ONNX semantics;
 *                               "torchvision": torchvision.ops.nms per (batch, class) (IoU from the raw
 *                               corners, which must be ordered min first, suppress when IoU > threshold,
 *                               stable score order), after the score threshold and before the
 *                               max_output_boxes_per_class cut. Both rule sets live in nms_util.c.
 *
 * Eval runs the (batch, class) pairs one after the other; the work is O(N^2) per pair at worst. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nms_util.h"
#include "op_util.h"
#include "ops.h"

typedef struct {
    int batches, classes, boxes, max_out, rows;
    bool center, has_score_threshold;
    nms_rules rules;
    float iou, score_threshold;
    size_t at_boxes, at_keep, at_subset, at_work;
} nmsop_data;

static size_t take(size_t *cursor, size_t bytes)
{
    size_t at = *cursor;
    *cursor += op_align(bytes);
    return at;
}

static bool parse_attrs(detc_prep *p, nmsop_data *d)
{
    static const char *const rules[] = {"torchvision", "tensorflow", NULL};
    int64_t max_out, center;
    double iou, score;
    int r;
    bool ok = detc_attr_int(p, "max_output_boxes_per_class", true, 0, 0, INT32_MAX, &max_out);
    ok = detc_attr_float(p, "iou_threshold", false, 0.0, 0.0, 1.0, &iou) && ok;
    d->has_score_threshold = detc_attr_get(p, "score_threshold") != NULL;
    ok = detc_attr_float(p, "score_threshold", false, 0.0, -FLT_MAX, FLT_MAX, &score) && ok;
    ok = detc_attr_int(p, "center_point_box", false, 0, 0, 1, &center) && ok;
    ok = detc_attr_enum(p, "rules", false, NMS_TENSORFLOW, rules, &r) && ok;
    d->max_out = (int)max_out;
    d->iou = (float)iou;
    d->score_threshold = (float)score;
    d->center = center == 1;
    d->rules = r == 0 ? NMS_TORCHVISION : NMS_TENSORFLOW;
    return ok;
}

static bool check_operands(detc_prep *p, nmsop_data *d)
{
    if (!detc_prep_require_input(p, 0, "boxes") || !detc_prep_require_input(p, 1, "scores"))
        return false;
    bool ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32), "boxes must be f32 [B, N, 4]; cast them to f32 first");
    ok = detc_prep_dtype(p, 1, DETC_MASK(DETC_F32), "scores must be f32 [B, C, N]; cast them to f32 first") && ok;
    ok = detc_prep_rank(p, 0, 3, 3) && ok;
    ok = detc_prep_rank(p, 1, 3, 3) && ok;
    if (!ok)
        return false;
    const detc_tensor *b = detc_prep_in(p, 0), *s = detc_prep_in(p, 1);
    char bs[128], ss[128];
    detc_shape_str(b->rank, b->dims, bs, sizeof bs);
    detc_shape_str(s->rank, s->dims, ss, sizeof ss);
    if (b->dims[0] < 1 || b->dims[1] < 1 || b->dims[2] != 4) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "boxes %s must be [B, N, 4] with B, N >= 1 (a TF [N, 4] box list needs a reshape to "
                        "[1, N, 4])",
                        bs);
        ok = false;
    }
    if (s->dims[0] < 1 || s->dims[1] < 1 || s->dims[2] < 1) {
        detc_prep_error(p, DETC_ERR_SHAPE, "scores %s must be [B, C, N] with B, C, N >= 1", ss);
        ok = false;
    }
    if (ok && s->dims[0] != b->dims[0]) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "boxes %s and scores %s have different batch sizes (%d and %d); both must be [B, ...]", bs, ss,
                        (int)b->dims[0], (int)s->dims[0]);
        ok = false;
    }
    if (ok && s->dims[2] != b->dims[1]) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "boxes %s hold %d boxes per batch but scores %s score %d; scores must be [B, C, N] (ONNX "
                        "layout; transpose [B, N, C] scores first)",
                        bs, (int)b->dims[1], ss, (int)s->dims[2]);
        ok = false;
    }
    d->batches = b->dims[0];
    d->boxes = b->dims[1];
    d->classes = s->dims[1];
    return ok;
}

static bool nmsop_prepare(detc_prep *p)
{
    nmsop_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    bool ok = op_check_counts(p);
    ok = parse_attrs(p, d) && ok;
    ok = check_operands(p, d) && ok; /* report operand problems next to attribute ones */
    if (!ok)
        return false;
    int per_class = d->max_out < d->boxes ? d->max_out : d->boxes;
    int64_t rows = (int64_t)d->batches * d->classes * per_class;
    if (rows > INT32_MAX / 3) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "%d batches x %d classes x %d boxes per class is more rows than a tensor holds; lower "
                        "max_output_boxes_per_class",
                        d->batches, d->classes, per_class);
        return false;
    }
    d->max_out = per_class;
    d->rows = rows > 0 ? (int)rows : 1;
    int32_t sdims[2] = {d->rows, 3}, one[1] = {1};
    ok = detc_prep_set_output(p, 0, DETC_I32, 2, sdims, NULL, false);
    ok = detc_prep_set_output(p, 1, DETC_I32, 1, one, NULL, false) && ok;
    if (!ok)
        return false;
    size_t c = 0, n = (size_t)d->boxes;
    d->at_boxes = take(&c, n * 4 * sizeof(float));
    d->at_keep = take(&c, n * sizeof(int));
    d->at_subset = take(&c, n * sizeof(int));
    d->at_work = take(&c, nms_work_bytes(d->boxes, 1));
    p->node->scratch_bytes = c;
    return true;
}

/* [xc, yc, w, h] -> corners, ONNX's conversion (x1 = xc - w / 2, ...). */
static void center_to_corners(const float *in, int n, float *out)
{
    for (int i = 0; i < n; i++) {
        const float *s = in + (size_t)i * 4;
        float *o = out + (size_t)i * 4;
        float hw = s[2] / 2.0f, hh = s[3] / 2.0f;
        o[0] = s[0] - hw;
        o[1] = s[1] - hh;
        o[2] = s[0] + hw;
        o[3] = s[1] + hh;
    }
}

static detc_code nmsop_eval(const detc_exec *x, detc_node *node)
{
    const nmsop_data *d = node->op_data;
    if (!x->scratch)
        return DETC_ERR_RUNTIME;
    uint8_t *s = x->scratch;
    float *conv = (float *)(void *)(s + d->at_boxes);
    int *keep = (int *)(void *)(s + d->at_keep), *subset = (int *)(void *)(s + d->at_subset);
    nms_work w;
    nms_work_init(&w, s + d->at_work, d->boxes, 1);
    const float *all_boxes = detc_in(x->g, node, 0)->data, *all_scores = detc_in(x->g, node, 1)->data;
    int32_t *sel = detc_out(x->g, node, 0)->data, *count = detc_out(x->g, node, 1)->data;
    int N = d->boxes, total = 0;
    memset(sel, 0, (size_t)d->rows * 3 * sizeof *sel);
    for (int b = 0; b < d->batches; b++) {
        const float *boxes = all_boxes + (size_t)b * N * 4;
        if (d->center) {
            center_to_corners(boxes, N, conv);
            boxes = conv;
        }
        for (int c = 0; c < d->classes && d->max_out > 0; c++) {
            const float *scores = all_scores + ((size_t)b * d->classes + c) * N;
            int k;
            if (d->rules == NMS_TENSORFLOW) {
                float thr = d->has_score_threshold ? d->score_threshold : -INFINITY;
                k = nms_single(NMS_TENSORFLOW, boxes, scores, NULL, N, d->iou, thr, d->max_out, keep, &w);
            } else {
                int m = 0;
                for (int i = 0; i < N; i++)
                    if (!d->has_score_threshold || scores[i] > d->score_threshold)
                        subset[m++] = i;
                k = nms_single(NMS_TORCHVISION, boxes, scores, subset, m, d->iou, 0.0f, -1, keep, &w);
                if (k > d->max_out)
                    k = d->max_out;
                for (int t = 0; t < k; t++)
                    keep[t] = subset[keep[t]];
            }
            for (int t = 0; t < k; t++, total++) {
                sel[(size_t)total * 3 + 0] = b;
                sel[(size_t)total * 3 + 1] = c;
                sel[(size_t)total * 3 + 2] = keep[t];
            }
        }
    }
    count[0] = total;
    return DETC_OK;
}

const detc_op detc_op_non_max_suppression = {
    .name = "non_max_suppression",
    .min_inputs = 2,
    .max_inputs = 2,
    .n_outputs = 2,
    .prepare = nmsop_prepare,
    .eval = nmsop_eval,
};
