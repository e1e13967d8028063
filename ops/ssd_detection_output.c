/* ssd_detection_output: Caffe SSD's DetectionOutput layer as OpenCV DNN implements it
 * (modules/dnn/src/layers/detection_output_layer.cpp and nms.inl.hpp, the CPU path), batch 1.
 *
 * Inputs: loc [1, ...] with P*4*L values (L = 1 with share_location, else num_classes; per prior, per
 * location class, 4 values xmin ymin xmax ymax, or ymin xmin ymax xmax with loc_pred_transposed), conf [1, ...]
 * with P*num_classes values (per prior, per class), priors [1, 2, 4*P] (corners xmin ymin xmax ymax, then
 * the 4 variances of every prior; [1, 1, 4*P] with variance_encoded_in_target). 4*P = priors->dims[2].
 *
 * 1. Decode every prior's box (in float, as OpenCV's DecodeBBox): CORNER adds variance * offset to the prior
 *    corners; CENTER_SIZE uses the prior's width/height (+1 each when not normalized) and centre:
 *    cx = var0*x * pw + pcx, w = expf(var2*w') * pw, then the corners cx -+ w * 0.5; optionally clipped to
 *    [0, 1]. The size of a box is 0 when xmax < xmin or ymax < ymin, else w*h ((w+1)*(h+1) unnormalized).
 * 2. Per class other than background_label_id: the priors with score > confidence_threshold, stable-sorted
 *    by decreasing score, the first top_k (> 0) of them, greedy NMS (kept when the IoU with every box kept
 *    so far is <= nms_threshold); with a single target class NMS stops after keep_top_k boxes.
 * 3. If more than keep_top_k boxes are kept over all classes, the keep_top_k best survive: all kept
 *    (score, class, prior) in class order, then libstdc++'s std::sort (or std::partial_sort when
 *    keep_top_k * 8 <= the count) by decreasing score, as OpenCV; survivors regrouped by class.
 * 4. Output order: the kept detections, classes ascending, each class in kept order, then std::sort by
 *    decreasing score (unless group_by_classes). Equal scores come out in exactly libstdc++'s (unstable)
 *    order, which is replayed step by step below.
 *
 * Outputs: boxes [1, K, 4] (xmin, ymin, xmax, ymax, as decoded: not clipped unless `clip`), classes [1, K]
 * (the class index, background included in the numbering), scores [1, K], count [1]; K = keep_top_k,
 * rows after `count` are zero (OpenCV's [1, 1, K, 7] output without the image-id column). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* every operation rounds as OpenCV's scalar code does */
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_util.h"
#include "ops.h"

typedef struct {
    float xmin, ymin, xmax, ymax, size;
} sdo_box;

/* A scored detection: prior index and class, or (step 4) a running position in `a`. */
typedef struct {
    float score;
    int a, b;
} sdo_rec;

typedef struct {
    int num_classes, background, keep_top_k, top_k, priors, loc_classes, target_classes;
    bool share_location, center_size, variance_in_target, transposed, clip, group_by_classes, normalized;
    float confidence_threshold, nms_threshold;
    int cap;  /* most boxes NMS can keep for one class */
    int limit; /* NMS stops after this many kept boxes (keep_top_k for a single target class) */
    size_t off_boxes, off_cand, off_tmp, off_kept, off_count, off_all, off_dst, total;
} sdo_data;

/* ---------------- prepare ---------------- */

static bool parse_attrs(detc_prep *p, sdo_data *d)
{
    int64_t v[4];
    double f[2];
    static const char *const codes[] = {"corner", "center_size", NULL};
    int code = 0;
    bool ok = detc_attr_int(p, "num_classes", true, 0, 1, 100000, &v[0]);
    ok = detc_attr_int(p, "background_label_id", false, 0, -1, 100000, &v[1]) && ok;
    ok = detc_attr_int(p, "keep_top_k", true, 0, 1, 1000000, &v[2]) && ok;
    ok = detc_attr_int(p, "top_k", false, -1, -1, 100000000, &v[3]) && ok;
    ok = detc_attr_float(p, "confidence_threshold", false, 0.0, -1e30, 1e30, &f[0]) && ok;
    ok = detc_attr_float(p, "nms_threshold", true, 0.0, 0.0, 1e30, &f[1]) && ok;
    ok = detc_attr_enum(p, "code_type", true, 0, codes, &code) && ok;
    ok = detc_attr_bool(p, "share_location", true, &d->share_location) && ok;
    ok = detc_attr_bool(p, "variance_encoded_in_target", false, &d->variance_in_target) && ok;
    ok = detc_attr_bool(p, "loc_pred_transposed", false, &d->transposed) && ok;
    ok = detc_attr_bool(p, "clip", false, &d->clip) && ok;
    ok = detc_attr_bool(p, "group_by_classes", false, &d->group_by_classes) && ok;
    ok = detc_attr_bool(p, "normalized_bbox", true, &d->normalized) && ok;
    if (ok && !((float)f[1] > 0.0f)) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute 'nms_threshold' is %g, expected a positive value", f[1]);
        ok = false;
    }
    if (ok && d->share_location && v[1] == -1) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "'share_location' with 'background_label_id' -1: Caffe and OpenCV skip decoding the shared "
                        "boxes (their label -1 equals the background id) and fail; give the real background class, "
                        "or num_classes when there is none");
        ok = false;
    }
    if (ok && d->clip && !d->normalized) {
        detc_prep_error(p, DETC_ERR_ATTR,
                        "'clip' with 'normalized_bbox' false needs the image size (a 4th input), which detc does not "
                        "support; convert with normalized boxes or without clipping");
        ok = false;
    }
    d->num_classes = (int)v[0];
    d->background = (int)v[1];
    d->keep_top_k = (int)v[2];
    d->top_k = (int)v[3];
    d->confidence_threshold = (float)f[0]; /* OpenCV reads both as float */
    d->nms_threshold = (float)f[1];
    d->center_size = code == 1;
    return ok;
}

static bool check_inputs(detc_prep *p, sdo_data *d)
{
    static const char *const roles[3] = {"locations", "confidences", "priors"};
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        if (!detc_prep_require_input(p, i, roles[i])) {
            ok = false;
            continue;
        }
        ok = detc_prep_dtype(p, i, DETC_MASK(DETC_F32), "cast it to f32 when converting") && ok;
        ok = detc_prep_rank(p, i, i == 2 ? 3 : 1, i == 2 ? 3 : DETC_MAX_RANK) && ok;
    }
    if (!ok)
        return false;
    const detc_tensor *loc = detc_prep_in(p, 0), *conf = detc_prep_in(p, 1), *pri = detc_prep_in(p, 2);
    char ls[128], cs[128], ps[128];
    detc_shape_str(loc->rank, loc->dims, ls, sizeof ls);
    detc_shape_str(conf->rank, conf->dims, cs, sizeof cs);
    detc_shape_str(pri->rank, pri->dims, ps, sizeof ps);
    int channels = d->variance_in_target ? 1 : 2;
    if (pri->dims[0] != 1 || pri->dims[1] != channels || pri->dims[2] % 4 != 0 || pri->dims[2] < 4) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "priors %s must be [1, %d, 4*P] (corners%s); fix the prior tensor when converting", ps,
                        channels, d->variance_in_target ? "" : ", then variances");
        return false;
    }
    d->priors = pri->dims[2] / 4;
    d->loc_classes = d->share_location ? 1 : d->num_classes;
    int64_t want_loc = (int64_t)d->priors * 4 * d->loc_classes, want_conf = (int64_t)d->priors * d->num_classes;
    if (loc->dims[0] != 1 || conf->dims[0] != 1) {
        detc_prep_error(p, DETC_ERR_SHAPE, "locations %s and confidences %s must have batch 1", ls, cs);
        ok = false;
    }
    if (detc_tensor_count(loc) != want_loc) {
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "locations %s hold %lld values; %d priors x %d location classes x 4 = %lld expected", ls,
                        (long long)detc_tensor_count(loc), d->priors, d->loc_classes, (long long)want_loc);
        ok = false;
    }
    if (detc_tensor_count(conf) != want_conf) {
        detc_prep_error(p, DETC_ERR_SHAPE, "confidences %s hold %lld values; %d priors x %d classes = %lld expected",
                        cs, (long long)detc_tensor_count(conf), d->priors, d->num_classes, (long long)want_conf);
        ok = false;
    }
    return ok;
}

static size_t take(size_t *cursor, size_t bytes)
{
    size_t at = *cursor;
    *cursor += op_align(bytes);
    return at;
}

static bool sdo_prepare(detc_prep *p)
{
    sdo_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    bool ok = op_check_counts(p);
    ok = parse_attrs(p, d) && ok;
    /* the operands are checked whenever num_classes is usable, so shape problems are reported too */
    bool inputs_ok = d->num_classes >= 1 && check_inputs(p, d);
    if (!ok || !inputs_ok)
        return false;
    bool has_background = d->background >= 0 && d->background < d->num_classes;
    d->target_classes = d->num_classes - (has_background ? 1 : 0);
    d->cap = d->top_k > 0 && d->top_k < d->priors ? d->top_k : d->priors;
    d->limit = d->target_classes == 1 ? d->keep_top_k : d->priors;
    if (d->limit < d->cap)
        d->cap = d->limit;
    int32_t k = d->keep_top_k, boxes[3] = {1, k, 4}, rows[2] = {1, k}, one[1] = {1};
    ok = detc_prep_set_output(p, 0, DETC_F32, 3, boxes, NULL, false);
    ok = detc_prep_set_output(p, 1, DETC_F32, 2, rows, NULL, false) && ok;
    ok = detc_prep_set_output(p, 2, DETC_F32, 2, rows, NULL, false) && ok;
    ok = detc_prep_set_output(p, 3, DETC_F32, 1, one, NULL, false) && ok;
    if (!ok)
        return false;
    size_t n = (size_t)d->priors, kept = (size_t)d->num_classes * (size_t)d->cap, cur = 0;
    d->off_boxes = take(&cur, (size_t)d->loc_classes * n * sizeof(sdo_box));
    d->off_cand = take(&cur, n * sizeof(sdo_rec));
    d->off_tmp = take(&cur, (n > kept ? n : kept) * sizeof(sdo_rec));
    d->off_kept = take(&cur, kept * sizeof(int));
    d->off_count = take(&cur, (size_t)d->num_classes * sizeof(int));
    d->off_all = take(&cur, kept * sizeof(sdo_rec));
    d->off_dst = take(&cur, kept * sizeof(int));
    d->total = cur;
    p->node->scratch_bytes = cur;
    return true;
}

/* ---------------- eval: boxes ---------------- */

static float box_size(float xmin, float ymin, float xmax, float ymax, bool normalized)
{
    if (xmax < xmin || ymax < ymin)
        return 0.0f;
    float w = xmax - xmin, h = ymax - ymin;
    return normalized ? w * h : (w + 1) * (h + 1);
}

static float min_f(float a, float b)
{
    return b < a ? b : a; /* std::min */
}

static float max_f(float a, float b)
{
    return a < b ? b : a; /* std::max */
}

static void decode(const sdo_data *d, const float *loc, const float *pri, sdo_box *out)
{
    const float *var = pri + (size_t)d->priors * 4;
    for (int lc = 0; lc < d->loc_classes; lc++) {
        if (!d->share_location && lc == d->background)
            continue; /* OpenCV decodes no boxes for the background class */
        sdo_box *dst = out + (size_t)lc * d->priors;
        for (int i = 0; i < d->priors; i++) {
            const float *l = loc + ((size_t)i * d->loc_classes + lc) * 4, *pb = pri + (size_t)i * 4;
            float bx0 = d->transposed ? l[1] : l[0], by0 = d->transposed ? l[0] : l[1];
            float bx1 = d->transposed ? l[3] : l[2], by1 = d->transposed ? l[2] : l[3];
            if (!d->variance_in_target) {
                const float *v = var + (size_t)i * 4;
                bx0 = v[0] * bx0;
                by0 = v[1] * by0;
                bx1 = v[2] * bx1;
                by1 = v[3] * by1;
            }
            sdo_box b;
            if (d->center_size) {
                float pw = pb[2] - pb[0], ph = pb[3] - pb[1];
                if (!d->normalized) {
                    pw += 1.0f;
                    ph += 1.0f;
                }
                float pcx = pb[0] + pw * 0.5f, pcy = pb[1] + ph * 0.5f;
                float cx = bx0 * pw + pcx, cy = by0 * ph + pcy;
                float w = expf(bx1) * pw, h = expf(by1) * ph;
                b.xmin = cx - w * 0.5f;
                b.ymin = cy - h * 0.5f;
                b.xmax = cx + w * 0.5f;
                b.ymax = cy + h * 0.5f;
            } else {
                b.xmin = pb[0] + bx0;
                b.ymin = pb[1] + by0;
                b.xmax = pb[2] + bx1;
                b.ymax = pb[3] + by1;
            }
            if (d->clip) {
                b.xmin = max_f(min_f(b.xmin, 1.0f), 0.0f);
                b.ymin = max_f(min_f(b.ymin, 1.0f), 0.0f);
                b.xmax = max_f(min_f(b.xmax, 1.0f), 0.0f);
                b.ymax = max_f(min_f(b.ymax, 1.0f), 0.0f);
            }
            b.size = box_size(b.xmin, b.ymin, b.xmax, b.ymax, d->normalized);
            dst[i] = b;
        }
    }
}

/* JaccardOverlap: 0 unless the intersection has a positive size. */
static float overlap(const sdo_box *a, const sdo_box *b, bool normalized)
{
    float x0 = max_f(a->xmin, b->xmin), y0 = max_f(a->ymin, b->ymin);
    float x1 = min_f(a->xmax, b->xmax), y1 = min_f(a->ymax, b->ymax);
    float inter = box_size(x0, y0, x1, y1, normalized);
    if (!(inter > 0))
        return 0.0f;
    return inter / (a->size + b->size - inter);
}

/* ---------------- eval: sorting ---------------- */

static bool better(const sdo_rec *x, const sdo_rec *y)
{
    return x->score > y->score; /* OpenCV's SortScorePairDescend */
}

/* std::stable_sort by decreasing score: merge sort, equal scores keep their order. */
static void stable_sort(sdo_rec *v, sdo_rec *tmp, int n)
{
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, k = mid, o = lo;
            while (i < mid && k < hi)
                tmp[o++] = better(&v[k], &v[i]) ? v[k++] : v[i++];
            while (i < mid)
                tmp[o++] = v[i++];
            while (k < hi)
                tmp[o++] = v[k++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
}

/* libstdc++ (bits/stl_heap.h, bits/stl_algo.h) std::sort and std::partial_sort, step by step, so that equal
 * scores end up exactly where OpenCV's build puts them. Positions are indices into v. */
static void push_heap(sdo_rec *v, long hole, long top, sdo_rec value)
{
    long parent = (hole - 1) / 2;
    while (hole > top && better(&v[parent], &value)) {
        v[hole] = v[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    v[hole] = value;
}

static void adjust_heap(sdo_rec *v, long hole, long len, sdo_rec value)
{
    long top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (better(&v[child], &v[child - 1]))
            child--;
        v[hole] = v[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        v[hole] = v[child - 1];
        hole = child - 1;
    }
    push_heap(v, hole, top, value);
}

static void make_heap(sdo_rec *v, long len)
{
    if (len < 2)
        return;
    for (long parent = (len - 2) / 2;; parent--) {
        adjust_heap(v, parent, len, v[parent]);
        if (parent == 0)
            return;
    }
}

static void pop_heap(sdo_rec *v, long len, long result)
{
    sdo_rec value = v[result];
    v[result] = v[0];
    adjust_heap(v, 0, len, value);
}

/* std::__partial_sort(first, first + middle, first + n): heap select, then sort_heap. */
static void partial_sort(sdo_rec *v, long middle, long n)
{
    make_heap(v, middle);
    for (long i = middle; i < n; i++)
        if (better(&v[i], &v[0]))
            pop_heap(v, middle, i);
    for (long len = middle; len > 1; len--)
        pop_heap(v, len - 1, len - 1);
}

static void swap_rec(sdo_rec *a, sdo_rec *b)
{
    sdo_rec t = *a;
    *a = *b;
    *b = t;
}

static void move_median_to_first(sdo_rec *result, sdo_rec *a, sdo_rec *b, sdo_rec *c)
{
    if (better(a, b)) {
        if (better(b, c))
            swap_rec(result, b);
        else if (better(a, c))
            swap_rec(result, c);
        else
            swap_rec(result, a);
    } else if (better(a, c)) {
        swap_rec(result, a);
    } else if (better(b, c)) {
        swap_rec(result, c);
    } else {
        swap_rec(result, b);
    }
}

static long unguarded_partition(sdo_rec *v, long first, long last, const sdo_rec *pivot)
{
    for (;;) {
        while (better(&v[first], pivot))
            first++;
        last--;
        while (better(pivot, &v[last]))
            last--;
        if (!(first < last))
            return first;
        swap_rec(&v[first], &v[last]);
        first++;
    }
}

enum { SORT_THRESHOLD = 16 };

static void introsort_loop(sdo_rec *v, long first, long last, long depth)
{
    while (last - first > SORT_THRESHOLD) {
        if (depth == 0) {
            partial_sort(v + first, last - first, last - first);
            return;
        }
        depth--;
        long mid = first + (last - first) / 2;
        move_median_to_first(&v[first], &v[first + 1], &v[mid], &v[last - 1]);
        long cut = unguarded_partition(v, first + 1, last, &v[first]);
        introsort_loop(v, cut, last, depth);
        last = cut;
    }
}

static void unguarded_linear_insert(sdo_rec *v, long last)
{
    sdo_rec value = v[last];
    long next = last - 1;
    while (better(&value, &v[next])) {
        v[last] = v[next];
        last = next;
        next--;
    }
    v[last] = value;
}

static void insertion_sort(sdo_rec *v, long first, long last)
{
    if (first == last)
        return;
    for (long i = first + 1; i != last; i++) {
        if (better(&v[i], &v[first])) {
            sdo_rec value = v[i];
            memmove(&v[first + 1], &v[first], (size_t)(i - first) * sizeof *v);
            v[first] = value;
        } else {
            unguarded_linear_insert(v, i);
        }
    }
}

static void std_sort(sdo_rec *v, long n)
{
    if (n < 2)
        return;
    long lg = 0;
    while ((n >> (lg + 1)) > 0)
        lg++;
    introsort_loop(v, 0, n, 2 * lg);
    if (n > SORT_THRESHOLD) {
        insertion_sort(v, 0, SORT_THRESHOLD);
        for (long i = SORT_THRESHOLD; i < n; i++)
            unguarded_linear_insert(v, i);
    } else {
        insertion_sort(v, 0, n);
    }
}

/* ---------------- eval ---------------- */

typedef struct {
    const sdo_data *d;
    const float *conf;
    const sdo_box *boxes;
    uint8_t *scratch;
} sdo_job;

static void *at(const sdo_job *j, size_t offset)
{
    return j->scratch + offset;
}

static const sdo_box *boxes_of(const sdo_job *j, int label)
{
    return j->boxes + (size_t)(j->d->share_location ? 0 : label) * j->d->priors;
}

/* NMSFast_ for one class: writes the kept prior indices, best first; returns how many. */
static int nms_class(const sdo_job *j, int c, int *kept)
{
    const sdo_data *d = j->d;
    sdo_rec *cand = at(j, d->off_cand);
    int n = 0;
    for (int i = 0; i < d->priors; i++) {
        float s = j->conf[(size_t)i * d->num_classes + c];
        if (s > d->confidence_threshold)
            cand[n++] = (sdo_rec){s, i, c};
    }
    stable_sort(cand, at(j, d->off_tmp), n);
    if (d->top_k > 0 && d->top_k < n)
        n = d->top_k;
    const sdo_box *boxes = boxes_of(j, c);
    int m = 0;
    for (int i = 0; i < n; i++) {
        const sdo_box *b = &boxes[cand[i].a];
        bool keep = true;
        for (int k = 0; k < m && keep; k++)
            keep = overlap(b, &boxes[kept[k]], d->normalized) <= d->nms_threshold;
        if (keep) {
            kept[m++] = cand[i].a;
            if (m >= d->limit)
                break;
        }
    }
    return m;
}

static detc_code sdo_eval(const detc_exec *x, detc_node *node)
{
    const sdo_data *d = node->op_data;
    if (!x->scratch)
        return DETC_ERR_RUNTIME;
    sdo_job j = {.d = d, .conf = detc_in(x->g, node, 1)->data, .scratch = x->scratch};
    sdo_box *boxes = at(&j, d->off_boxes);
    decode(d, detc_in(x->g, node, 0)->data, detc_in(x->g, node, 2)->data, boxes);
    j.boxes = boxes;

    int *kept = at(&j, d->off_kept), *count = at(&j, d->off_count), *dst = at(&j, d->off_dst);
    sdo_rec *all = at(&j, d->off_all);
    long total = 0;
    for (int c = 0; c < d->num_classes; c++) {
        count[c] = c == d->background ? 0 : nms_class(&j, c, kept + (size_t)c * d->cap);
        total += count[c];
    }
    if (total > d->keep_top_k) {
        /* keep the keep_top_k best over all classes, then regroup them by class */
        long n = 0;
        for (int c = 0; c < d->num_classes; c++)
            for (int i = 0; i < count[c]; i++) {
                int prior = kept[(size_t)c * d->cap + i];
                all[n++] = (sdo_rec){j.conf[(size_t)prior * d->num_classes + c], prior, c};
            }
        if ((long)d->keep_top_k * 8 > n)
            std_sort(all, n);
        else
            partial_sort(all, d->keep_top_k, n);
        memset(count, 0, (size_t)d->num_classes * sizeof *count);
        for (long i = 0; i < d->keep_top_k; i++) {
            int c = all[i].b;
            kept[(size_t)c * d->cap + count[c]++] = all[i].a;
        }
        total = d->keep_top_k;
    }
    /* output order: running positions sorted by score */
    long n = 0;
    for (int c = 0; c < d->num_classes; c++)
        for (int i = 0; i < count[c]; i++, n++) {
            int prior = kept[(size_t)c * d->cap + i];
            all[n] = (sdo_rec){j.conf[(size_t)prior * d->num_classes + c], (int)n, c};
        }
    if (!d->group_by_classes)
        std_sort(all, n);
    for (long i = 0; i < n; i++)
        dst[all[i].a] = (int)i;

    float *ob = detc_out(x->g, node, 0)->data, *oc = detc_out(x->g, node, 1)->data;
    float *os = detc_out(x->g, node, 2)->data, *on = detc_out(x->g, node, 3)->data;
    memset(ob, 0, (size_t)d->keep_top_k * 4 * sizeof(float));
    memset(oc, 0, (size_t)d->keep_top_k * sizeof(float));
    memset(os, 0, (size_t)d->keep_top_k * sizeof(float));
    long pos = 0;
    for (int c = 0; c < d->num_classes; c++)
        for (int i = 0; i < count[c]; i++, pos++) {
            int prior = kept[(size_t)c * d->cap + i], row = dst[pos];
            const sdo_box *b = &boxes_of(&j, c)[prior];
            ob[(size_t)row * 4 + 0] = b->xmin;
            ob[(size_t)row * 4 + 1] = b->ymin;
            ob[(size_t)row * 4 + 2] = b->xmax;
            ob[(size_t)row * 4 + 3] = b->ymax;
            oc[row] = (float)c;
            os[row] = j.conf[(size_t)prior * d->num_classes + c];
        }
    on[0] = (float)total;
    return DETC_OK;
}

const detc_op detc_op_ssd_detection_output = {
    .name = "ssd_detection_output",
    .min_inputs = 3,
    .max_inputs = 3,
    .n_outputs = 4,
    .prepare = sdo_prepare,
    .eval = sdo_eval,
};
