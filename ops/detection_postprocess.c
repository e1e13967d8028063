/* detection_postprocess: TensorFlow Lite's TFLite_Detection_PostProcess custom op
 * (tensorflow/lite/kernels/detection_postprocess.cc, the TF 2.1x version with double-precision box
 * decoding and the merge-based regular NMS), single-threaded.
 *
 * 1. Dequantize box encodings, class scores and anchors (f32 used as is).
 * 2. Decode centre-size boxes against the anchors (yc, xc, h, w), in double, rounded to float.
 * 3. NMS, either
 *    fast (use_regular_nms false): per anchor the top k = min(max_classes_per_detection, num_classes)
 *      classes (k == 1: first maximum; k > 1: std::partial_sort as libstdc++ implements it, since equal
 *      scores come out in its heap order), then one NMS over the anchors' best scores;
 *    regular: NMS per class (detections_per_class), each class's picks merged into the running list by
 *      std::inplace_merge with "a.score >= b.score", so on equal scores a later class comes first.
 *    Single-class NMS keeps scores >= score threshold, orders them by a stable descending sort (equal
 *    scores: lower anchor first) and drops boxes whose IoU with a kept box is > the IoU threshold.
 * Outputs: boxes [1,D,4] (ymin, xmin, ymax, xmax), classes [1,D] (without background), scores [1,D],
 * count [1]; D = max_detections * max_classes_per_detection. Unused entries are zero (TFLite leaves them
 * as they were). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* the decode must round every operation as TFLite does */
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    float ymin, xmin, ymax, xmax;
} dpp_box;

typedef struct {
    float score;
    int index;
} dpp_scored;

/* Byte offsets of the work arrays in the node's scratch. */
typedef struct {
    size_t boxes, scores, best, class_idx, iota, keep, selected, merged, merged_tmp, total;
} dpp_layout;

typedef struct {
    int max_detections, max_classes_per_detection, detections_per_class, num_classes;
    float iou_threshold, score_threshold;
    float y_scale, x_scale, h_scale, w_scale;
    bool regular;
    int anchors, box_stride, classes_with_bg, label_offset, top_k;
    int out_count; /* D */
    dpp_layout at;
} dpp_data;

/* ---------------- prepare ---------------- */

/* The options as TFLite's kernel reads them (detection_postprocess.cc Init): an absent key reads as 0
 * (false for use_regular_nms), except detections_per_class, 100 when absent. Only what TFLite itself
 * refuses, or would compute wrongly, is refused here; each message names the rule. */
static bool parse_attrs(detc_prep *p, dpp_data *d)
{
    int64_t v[4];
    double f[6];
    bool ok = detc_attr_int(p, "max_detections", false, 0, INT32_MIN, INT32_MAX, &v[0]);
    ok = detc_attr_int(p, "max_classes_per_detection", false, 0, INT32_MIN, INT32_MAX, &v[1]) && ok;
    ok = detc_attr_int(p, "detections_per_class", false, 100, INT32_MIN, INT32_MAX, &v[2]) && ok;
    ok = detc_attr_int(p, "num_classes", false, 0, INT32_MIN, INT32_MAX, &v[3]) && ok;
    ok = detc_attr_bool(p, "use_regular_nms", false, &d->regular) && ok;
    static const char *const names[6] = {"nms_iou_threshold", "nms_score_threshold", "y_scale",
                                         "x_scale", "h_scale", "w_scale"};
    for (int i = 0; i < 6; i++)
        ok = detc_attr_float(p, names[i], false, 0.0, -1e38, 1e38, &f[i]) && ok;
    if (!ok)
        return false;
    d->max_detections = (int)v[0];
    d->max_classes_per_detection = (int)v[1];
    d->detections_per_class = (int)v[2];
    d->num_classes = (int)v[3];
    /* TFLite reads every option as a float */
    d->iou_threshold = (float)f[0];
    d->score_threshold = (float)f[1];
    d->y_scale = (float)f[2];
    d->x_scale = (float)f[3];
    d->h_scale = (float)f[4];
    d->w_scale = (float)f[5];
    if (d->max_detections < 1 || d->max_detections > 100000) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'max_detections' is %d: TFLite requires max_detections >= 0, and detc needs at "
                        "least one output row (0 would give empty outputs) and at most 100000",
                        d->max_detections);
        ok = false;
    }
    if (d->max_classes_per_detection < 1 || d->max_classes_per_detection > 100000) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'max_classes_per_detection' is %d: TFLite requires it > 0 (fast NMS refuses 0; "
                        "regular NMS would write past its outputs), and detc at most 100000",
                        d->max_classes_per_detection);
        ok = false;
    }
    /* fast NMS never reads detections_per_class; regular NMS requires min(it, max_detections) > 0 */
    if (d->regular && d->detections_per_class < 1) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'detections_per_class' is %d with use_regular_nms: TFLite's regular NMS requires "
                        "min(detections_per_class, max_detections) > 0 (absent, it is 100)",
                        d->detections_per_class);
        ok = false;
    }
    if (!d->regular || d->detections_per_class > d->max_detections)
        d->detections_per_class = d->max_detections; /* as TFLite's regular NMS does; unused by fast NMS */
    if (d->num_classes < 1 || d->num_classes > 100000) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'num_classes' is %d, expected 1..100000 (TFLite's NMS reads no class with 0; "
                        "with fewer than 1 it computes from uninitialized scores)",
                        d->num_classes);
        ok = false;
    }
    if (!(d->iou_threshold > 0.0f && d->iou_threshold <= 1.0f)) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "attribute 'nms_iou_threshold' is %g: TFLite requires 0 < nms_iou_threshold <= 1", f[0]);
        ok = false;
    }
    static const char *const scale_names[4] = {"y_scale", "x_scale", "h_scale", "w_scale"};
    const float scales[4] = {d->y_scale, d->x_scale, d->h_scale, d->w_scale};
    for (int i = 0; i < 4; i++) {
        if (scales[i] == 0.0f) {
            detc_prep_error(p, DETC_ERR_ATTR,
                            "attribute '%s' is 0 (absent keys read as 0): TFLite divides the box encodings by it, "
                            "which gives infinite or NaN boxes; give the model's scale (SSD: 10, 10, 5, 5)",
                            scale_names[i]);
            ok = false;
        }
    }
    return ok;
}

static bool check_input(detc_prep *p, int slot, const char *role, int rank)
{
    const detc_tensor *t = detc_prep_in(p, slot);
    if (!detc_prep_require_input(p, slot, role))
        return false;
    /* TFLite's kernel dequantizes u8 only: other types fail when it runs (checked with tools/tflite_ref) */
    bool ok = detc_prep_dtype(p, slot, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8),
                              "TFLite's kernel reads f32 or quantized u8 only (an i8 model dequantizes before this "
                              "op); give it f32, or u8 with quantization parameters");
    ok = detc_prep_rank(p, slot, rank, rank) && ok;
    if (ok && t->dtype != DETC_F32)
        ok = op_require_per_tensor_quant(p, slot, role);
    return ok;
}

/* TFLite reads the anchors with the box encodings' type (u8 boxes: the anchors' bytes dequantized as u8) */
static bool check_anchor_dtype(detc_prep *p)
{
    const detc_tensor *b = detc_prep_in(p, 0), *a = detc_prep_in(p, 2);
    if (b->dtype == a->dtype)
        return true;
    detc_prep_error(p, DETC_ERR_DTYPE,
                    "anchors '%s' are %s but box encodings '%s' are %s: TFLite's kernel reads the anchors as the box "
                    "encodings' type, so it would decode garbage boxes; give both the same dtype",
                    a->name, detc_dtype_name(a->dtype), b->name, detc_dtype_name(b->dtype));
    return false;
}

static bool check_shapes(detc_prep *p, dpp_data *d)
{
    const detc_tensor *b = detc_prep_in(p, 0), *c = detc_prep_in(p, 1), *a = detc_prep_in(p, 2);
    char bs[128], cs[128], as[128];
    detc_shape_str(b->rank, b->dims, bs, sizeof bs);
    detc_shape_str(c->rank, c->dims, cs, sizeof cs);
    detc_shape_str(a->rank, a->dims, as, sizeof as);
    bool ok = true;
    if (b->dims[0] != 1 || c->dims[0] != 1) {
        detc_prep_error(p, DETC_ERR_SHAPE, "box encodings %s and class predictions %s must have batch 1", bs, cs);
        ok = false;
    }
    if (b->dims[2] < 4 || a->dims[1] != 4) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "box encodings %s need at least 4 values per anchor (y, x, h, w) and anchors %s exactly 4 "
                        "(yc, xc, h, w)",
                        bs, as);
        ok = false;
    }
    if (b->dims[1] != c->dims[1] || b->dims[1] != a->dims[0] || b->dims[1] < 1) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "box encodings %s, class predictions %s and anchors %s must agree on the number of anchors",
                        bs, cs, as);
        ok = false;
    }
    int64_t offset = (int64_t)c->dims[2] - d->num_classes;
    if (offset != 0 && offset != 1) {
        /* TFLite: num_classes_with_background - num_classes must be 0 or 1 (checked when it runs) */
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "class predictions %s have %d columns; with num_classes %d TFLite requires %d (a background "
                        "column first) or %d (columns - num_classes <= 1, and not negative); fix num_classes",
                        cs, (int)c->dims[2], d->num_classes, d->num_classes + 1, d->num_classes);
        ok = false;
    }
    d->anchors = b->dims[1];
    d->box_stride = b->dims[2];
    d->classes_with_bg = c->dims[2];
    d->label_offset = (int)offset;
    return ok;
}

static size_t take(size_t *cursor, size_t bytes)
{
    size_t at = *cursor;
    *cursor += op_align(bytes);
    return at;
}

static void plan_scratch(detc_prep *p, dpp_data *d)
{
    size_t a = (size_t)d->anchors, merged = (size_t)d->max_detections + (size_t)d->detections_per_class;
    size_t cur = 0;
    dpp_layout *at = &d->at;
    at->boxes = take(&cur, a * sizeof(dpp_box));
    at->scores = take(&cur, a * (size_t)d->classes_with_bg * sizeof(float));
    at->best = take(&cur, a * sizeof(float));
    at->class_idx = take(&cur, d->regular ? 0 : a * (size_t)d->top_k * sizeof(int));
    at->iota = take(&cur, d->regular ? 0 : (size_t)d->num_classes * sizeof(int));
    at->keep = take(&cur, a * sizeof(dpp_scored));
    at->selected = take(&cur, a * sizeof(int));
    at->merged = take(&cur, d->regular ? merged * sizeof(dpp_scored) : 0);
    at->merged_tmp = take(&cur, d->regular ? merged * sizeof(dpp_scored) : 0);
    at->total = cur;
    p->node->scratch_bytes = cur;
}

static bool set_outputs(detc_prep *p, const dpp_data *d)
{
    int32_t boxes[3] = {1, d->out_count, 4}, per_det[2] = {1, d->out_count}, one[1] = {1};
    bool ok = detc_prep_set_output(p, 0, DETC_F32, 3, boxes, NULL, false);
    ok = detc_prep_set_output(p, 1, DETC_F32, 2, per_det, NULL, false) && ok;
    ok = detc_prep_set_output(p, 2, DETC_F32, 2, per_det, NULL, false) && ok;
    return detc_prep_set_output(p, 3, DETC_F32, 1, one, NULL, false) && ok;
}

static bool dpp_prepare(detc_prep *p)
{
    dpp_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    bool ok = op_check_counts(p);
    ok = parse_attrs(p, d) && ok;
    bool inputs_ok = check_input(p, 0, "box encodings", 3);
    inputs_ok = check_input(p, 1, "class predictions", 3) && inputs_ok;
    inputs_ok = check_input(p, 2, "anchors", 2) && inputs_ok;
    if (!ok || !inputs_ok || !check_anchor_dtype(p) || !check_shapes(p, d))
        return false;
    int64_t out_count = (int64_t)d->max_detections * d->max_classes_per_detection;
    if (out_count > 1000000) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "max_detections x max_classes_per_detection = %lld output rows is too many (at most "
                        "1000000)",
                        (long long)out_count);
        return false;
    }
    d->out_count = (int)out_count;
    d->top_k = d->max_classes_per_detection < d->num_classes ? d->max_classes_per_detection : d->num_classes;
    if (!set_outputs(p, d))
        return false;
    plan_scratch(p, d);
    return true;
}

/* ---------------- eval: decode ---------------- */

/* The real value of element i of an f32 or per-tensor quantized tensor. */
static float real_value(const detc_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case DETC_F32:
        return ((const float *)t->data)[i];
    case DETC_U8:
        return ((float)((const uint8_t *)t->data)[i] - (float)t->quant.zero_point[0]) * t->quant.scale[0];
    case DETC_I8:
        return ((float)((const int8_t *)t->data)[i] - (float)t->quant.zero_point[0]) * t->quant.scale[0];
    default:
        return 0.0f;
    }
}

static void decode_boxes(const dpp_data *d, const detc_tensor *enc, const detc_tensor *anc, dpp_box *out)
{
    for (int i = 0; i < d->anchors; i++) {
        int64_t e = (int64_t)i * d->box_stride, a = (int64_t)i * 4;
        double ey = real_value(enc, e), ex = real_value(enc, e + 1);
        double eh = real_value(enc, e + 2), ew = real_value(enc, e + 3);
        double ay = real_value(anc, a), ax = real_value(anc, a + 1);
        double ah = real_value(anc, a + 2), aw = real_value(anc, a + 3);
        float yc = (float)(ey / (double)d->y_scale * ah + ay);
        float xc = (float)(ex / (double)d->x_scale * aw + ax);
        float half_h = (float)(0.5 * exp(eh / (double)d->h_scale) * ah);
        float half_w = (float)(0.5 * exp(ew / (double)d->w_scale) * aw);
        out[i] = (dpp_box){yc - half_h, xc - half_w, yc + half_h, xc + half_w};
    }
}

/* TFLite refuses boxes with ymin > ymax or xmin > xmax (negative anchor sizes). */
static bool boxes_valid(const dpp_box *b, int n)
{
    for (int i = 0; i < n; i++)
        if (b[i].ymin > b[i].ymax || b[i].xmin > b[i].xmax)
            return false;
    return true;
}

/* ---------------- eval: single-class NMS ---------------- */

typedef struct {
    const dpp_data *d;
    const dpp_box *boxes;
    const float *scores; /* [anchors][classes_with_bg] */
    uint8_t *scratch;
} dpp_job;

static void *at(const dpp_job *j, size_t offset)
{
    return j->scratch + offset;
}

static float max_f(float a, float b)
{
    return a < b ? b : a; /* std::max */
}

static float min_f(float a, float b)
{
    return b < a ? b : a; /* std::min */
}

static float iou(const dpp_box *bi, const dpp_box *bj)
{
    float area_i = (bi->ymax - bi->ymin) * (bi->xmax - bi->xmin);
    float area_j = (bj->ymax - bj->ymin) * (bj->xmax - bj->xmin);
    if (area_i <= 0 || area_j <= 0)
        return 0.0f;
    float ymin = max_f(bi->ymin, bj->ymin), xmin = max_f(bi->xmin, bj->xmin);
    float ymax = min_f(bi->ymax, bj->ymax), xmax = min_f(bi->xmax, bj->xmax);
    float inter = max_f(ymax - ymin, 0.0f) * max_f(xmax - xmin, 0.0f);
    return inter / (area_i + area_j - inter);
}

/* Higher score first; equal scores keep anchor order (what std::stable_sort gives from an iota). Indices
 * are distinct, so this is a total order: any algorithm that visits candidates in it sees TFLite's order. */
static bool ranks_before(const dpp_scored *a, const dpp_scored *b)
{
    return a->score > b->score || (a->score == b->score && a->index < b->index);
}

/* Binary max-heap in ranks_before's order: h[0] ranks first. */
static void sift_down(dpp_scored *h, int n, int i)
{
    dpp_scored v = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ranks_before(&h[c + 1], &h[c]))
            c++;
        if (!ranks_before(&h[c], &v))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

/* Greedy NMS over scores[0..anchors); writes the kept anchors, best first, and returns how many.
 * Candidates are visited best first; one is kept when its IoU with every box kept so far is at most the
 * threshold (TFLite's NonMaxSuppressionSingleClassHelper suppresses exactly those). A heap yields them in
 * order, so only the candidates visited before max_detections are kept get ordered: typically a few dozen
 * of SSD's 1917 anchors, where sorting all of them cost more than the rest of the op. */
static int nms_single(const dpp_job *j, const float *scores, int max_detections, int *selected)
{
    const dpp_data *d = j->d;
    dpp_scored *heap = at(j, d->at.keep);
    int n = 0;
    for (int i = 0; i < d->anchors; i++)
        if (scores[i] >= d->score_threshold)
            heap[n++] = (dpp_scored){scores[i], i};
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(heap, n, i);
    int limit = n < max_detections ? n : max_detections, n_sel = 0;
    while (n > 0 && n_sel < limit) {
        int cand = heap[0].index;
        heap[0] = heap[--n];
        sift_down(heap, n, 0);
        bool keep = true;
        for (int s = 0; s < n_sel && keep; s++)
            keep = !(iou(&j->boxes[selected[s]], &j->boxes[cand]) > d->iou_threshold);
        if (keep)
            selected[n_sel++] = cand;
    }
    return n_sel;
}

/* ---------------- eval: libstdc++ std::partial_sort, for the tie order of fast NMS ---------------- */

static bool goes_before(const float *v, int a, int b)
{
    return v[a] > v[b];
}

/* std::__adjust_heap followed by std::__push_heap. */
static void adjust_heap(int *h, int hole, int len, int value, const float *v)
{
    int top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (goes_before(v, h[child], h[child - 1]))
            child--;
        h[hole] = h[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        h[hole] = h[child - 1];
        hole = child - 1;
    }
    int parent = (hole - 1) / 2;
    while (hole > top && goes_before(v, h[parent], value)) {
        h[hole] = h[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    h[hole] = value;
}

static void pop_heap(int *h, int len, int result, const float *v)
{
    int value = h[result];
    h[result] = h[0];
    adjust_heap(h, 0, len, value, v);
}

/* Indices of the k best values first, in libstdc++'s order (heap select, then heap sort). */
static void partial_arg_sort(const float *v, int n, int k, int *idx)
{
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int parent = (k - 2) / 2; k >= 2 && parent >= 0; parent--)
        adjust_heap(idx, parent, k, idx[parent], v);
    for (int i = k; i < n; i++)
        if (goes_before(v, idx[i], idx[0]))
            pop_heap(idx, k, i, v);
    for (int len = k - 1; len >= 1; len--)
        pop_heap(idx, len, len, v);
}

/* optimized_ops::ArgMaxVector: the first maximum. */
static int arg_max(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* ---------------- eval: multi-class NMS ---------------- */

typedef struct {
    float *boxes, *classes, *scores, *count;
} dpp_outputs;

static void write_row(const dpp_outputs *o, int row, const dpp_box *box, int class_index, float score)
{
    memcpy(o->boxes + (size_t)row * 4, box, sizeof *box);
    o->classes[row] = (float)class_index;
    o->scores[row] = score;
}

static void fast_nms(const dpp_job *j, const dpp_outputs *o)
{
    const dpp_data *d = j->d;
    float *best = at(j, d->at.best);
    int *class_idx = at(j, d->at.class_idx), *iota = at(j, d->at.iota), *selected = at(j, d->at.selected);
    for (int a = 0; a < d->anchors; a++) {
        const float *row = j->scores + (size_t)a * d->classes_with_bg + d->label_offset;
        int *top = class_idx + (size_t)a * d->top_k;
        if (d->top_k == 1) {
            top[0] = arg_max(row, d->num_classes);
        } else {
            partial_arg_sort(row, d->num_classes, d->top_k, iota);
            memcpy(top, iota, (size_t)d->top_k * sizeof *top);
        }
        best[a] = row[top[0]];
    }
    int n = nms_single(j, best, d->max_detections, selected);
    for (int s = 0; s < n; s++) {
        int a = selected[s];
        const float *row = j->scores + (size_t)a * d->classes_with_bg + d->label_offset;
        for (int c = 0; c < d->top_k; c++) {
            int cls = class_idx[(size_t)a * d->top_k + c];
            write_row(o, d->max_classes_per_detection * s + c, &j->boxes[a], cls, row[cls]);
        }
    }
    o->count[0] = (float)n;
}

/* std::inplace_merge of v[0..n1) and v[n1..n1+n2) with "a.score >= b.score": on equal scores the
 * second run's entry goes first. */
static void merge_runs(dpp_scored *v, dpp_scored *tmp, int n1, int n2)
{
    memcpy(tmp, v, (size_t)n1 * sizeof *v);
    int i = 0, k = n1, o = 0;
    while (i < n1 && k < n1 + n2)
        v[o++] = v[k].score >= tmp[i].score ? v[k++] : tmp[i++];
    while (i < n1)
        v[o++] = tmp[i++];
}

static void regular_nms(const dpp_job *j, const dpp_outputs *o)
{
    const dpp_data *d = j->d;
    float *class_scores = at(j, d->at.best);
    int *selected = at(j, d->at.selected);
    dpp_scored *merged = at(j, d->at.merged);
    int size = 0, cwb = d->classes_with_bg;
    for (int c = 0; c < d->num_classes; c++) {
        for (int a = 0; a < d->anchors; a++)
            class_scores[a] = j->scores[(size_t)a * cwb + c + d->label_offset];
        int n = nms_single(j, class_scores, d->detections_per_class, selected);
        if (n == 0)
            continue;
        for (int s = 0; s < n; s++)
            merged[size + s] = (dpp_scored){class_scores[selected[s]], selected[s] * cwb + c + d->label_offset};
        merge_runs(merged, at(j, d->at.merged_tmp), size, n);
        size = size + n < d->max_detections ? size + n : d->max_detections;
    }
    for (int r = 0; r < size; r++) {
        int a = merged[r].index / cwb;
        write_row(o, r, &j->boxes[a], merged[r].index - a * cwb - d->label_offset, merged[r].score);
    }
    o->count[0] = (float)size;
}

static detc_code dpp_eval(const detc_exec *x, detc_node *node)
{
    const dpp_data *d = node->op_data;
    if (!x->scratch)
        return DETC_ERR_RUNTIME;
    dpp_job j = {.d = d, .scratch = x->scratch};
    const detc_tensor *cls = detc_in(x->g, node, 1);
    dpp_box *boxes = at(&j, d->at.boxes);
    decode_boxes(d, detc_in(x->g, node, 0), detc_in(x->g, node, 2), boxes);
    if (!boxes_valid(boxes, d->anchors))
        return DETC_ERR_RUNTIME;
    j.boxes = boxes;
    if (cls->dtype == DETC_F32) {
        j.scores = cls->data;
    } else {
        /* every byte value's real_value, the same float expression, looked up */
        float *scores = at(&j, d->at.scores), lut[256];
        const uint8_t *q = cls->data;
        for (int v = 0; v < 256; v++) {
            float raw = cls->dtype == DETC_I8 ? (float)(int8_t)(uint8_t)v : (float)v;
            lut[v] = (raw - (float)cls->quant.zero_point[0]) * cls->quant.scale[0];
        }
        for (int64_t i = 0; i < (int64_t)d->anchors * d->classes_with_bg; i++)
            scores[i] = lut[q[i]];
        j.scores = scores;
    }
    dpp_outputs o = {detc_out(x->g, node, 0)->data, detc_out(x->g, node, 1)->data, detc_out(x->g, node, 2)->data,
                     detc_out(x->g, node, 3)->data};
    memset(o.boxes, 0, (size_t)d->out_count * 4 * sizeof(float));
    memset(o.classes, 0, (size_t)d->out_count * sizeof(float));
    memset(o.scores, 0, (size_t)d->out_count * sizeof(float));
    if (d->regular)
        regular_nms(&j, &o);
    else
        fast_nms(&j, &o);
    return DETC_OK;
}

const detc_op detc_op_detection_postprocess = {
    .name = "detection_postprocess",
    .min_inputs = 3,
    .max_inputs = 3,
    .n_outputs = 4,
    .prepare = dpp_prepare,
    .eval = dpp_eval,
};
